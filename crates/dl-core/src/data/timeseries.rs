//! Univariate time series in CSV: a header line, then `date-or-index,value`.
//!
//! The index column is kept as text (`1949-01`, `1958-03-29`, `0`): the
//! series of `shared/data` are regularly spaced, so models only need the
//! order, and plots only need the labels. An empty value is a missing
//! observation (the weekly CO2 series has some) and is read as `NaN` rather
//! than rejected; anything else that is not a finite number is an error naming
//! the line, because a silently skipped row would shift every later time step.

use std::path::Path;

use super::{read_maybe_gz, utf8_text};
use crate::{Error, Result};

/// A named univariate series.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The value column's header (`passengers_thousands`, `co2_ppm`, ...).
    pub name: String,
    /// First column of each row (a date or an index), as written.
    pub index: Vec<String>,
    /// Second column of each row; `NaN` where the value was empty (missing).
    pub values: Vec<f64>,
}

impl Series {
    /// Number of observations (rows), missing ones included.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether the series has no rows.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Number of missing (`NaN`) values.
    pub fn missing(&self) -> usize {
        self.values.iter().filter(|v| v.is_nan()).count()
    }

    /// Replaces missing values by linear interpolation between their known
    /// neighbours (the nearest known value at either end), so that windows of
    /// the series can be fed to a model that cannot take `NaN`.
    ///
    /// A series with no known value at all is an [`Error::Invalid`].
    pub fn interpolate_missing(&mut self) -> Result<()> {
        let known: Vec<usize> = (0..self.values.len()).filter(|&i| !self.values[i].is_nan()).collect();
        let (Some(&first), Some(&last)) = (known.first(), known.last()) else {
            if self.values.is_empty() {
                return Ok(());
            }
            return Err(Error::Invalid(format!("series `{}` has no known value to interpolate from", self.name)));
        };
        let (head, tail) = (self.values[first], self.values[last]);
        self.values[..first].fill(head);
        self.values[last + 1..].fill(tail);
        for pair in known.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let (va, vb) = (self.values[a], self.values[b]);
            for i in a + 1..b {
                self.values[i] = va + (vb - va) * (i - a) as f64 / (b - a) as f64;
            }
        }
        Ok(())
    }
}

/// Reads a series CSV (gzip detected by content).
///
/// The first line is the header; its second column names the series. Every
/// further non-empty line must be `index,value` with exactly two columns; a
/// missing column, an extra column, or a value that is not a finite number is
/// an [`Error::Data`] naming the file and the line. An empty value is a
/// missing observation (`NaN`, see [`Series::interpolate_missing`]). A file
/// with a header but no rows is an error too, since no model can use it.
pub fn read_series_csv(path: impl AsRef<Path>) -> Result<Series> {
    Ok(read_numbered(path.as_ref())?.0)
}

/// [`read_series_csv`] for a model that takes every value as it is: a
/// missing value (an empty cell) is an [`Error::Data`] naming the file and
/// line, caught when the data is read rather than as a `NaN` loss later.
pub fn read_complete_series_csv(path: impl AsRef<Path>) -> Result<Series> {
    let path = path.as_ref();
    let (series, lines) = read_numbered(path)?;
    if let Some(i) = series.values.iter().position(|v| v.is_nan()) {
        return Err(Error::data(
            path,
            format!("line {}", lines[i]),
            format!("no value for `{}` (a missing value; this series must be complete)", series.index[i]),
        ));
    }
    Ok(series)
}

/// The series of `path` and the line number of each row.
fn read_numbered(path: &Path) -> Result<(Series, Vec<usize>)> {
    let text = utf8_text(read_maybe_gz(path)?, path)?;
    let mut lines = text.lines().enumerate();
    let header = lines.next().map(|(_, h)| h).filter(|h| !h.trim().is_empty());
    let Some(header) = header else {
        return Err(Error::data(path, "line 1", "empty header: expected `index,value` column names"));
    };
    let columns: Vec<&str> = header.split(',').map(str::trim).collect();
    let [_, name] = columns[..] else {
        return Err(Error::data(
            path,
            "line 1",
            format!("header `{header}` has {} column(s), expected 2 (`index,value`)", columns.len()),
        ));
    };
    let mut index = Vec::new();
    let mut values = Vec::new();
    let mut numbers = Vec::new();
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let at = format!("line {}", i + 1);
        let columns: Vec<&str> = line.split(',').map(str::trim).collect();
        let [key, value] = columns[..] else {
            return Err(Error::data(
                path,
                at,
                format!("`{line}` has {} column(s), expected 2 (`index,value`)", columns.len()),
            ));
        };
        let value = if value.is_empty() {
            f64::NAN
        } else {
            match value.parse::<f64>() {
                Ok(v) if v.is_finite() => v,
                _ => return Err(Error::data(path, at, format!("value `{value}` is not a finite number"))),
            }
        };
        index.push(key.to_string());
        values.push(value);
        numbers.push(i + 1);
    }
    if values.is_empty() {
        return Err(Error::data(path, "line 2", "no data rows after the header"));
    }
    Ok((Series { name: name.to_string(), index, values }, numbers))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::test_data;

    fn temp_csv(name: &str, text: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("dl-core-ts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn parses_header_index_and_values() {
        let p = temp_csv("ok.csv", "month,passengers\r\n1949-01,112\n1949-02, 118.5\n\n");
        let s = read_series_csv(&p).unwrap();
        assert_eq!(s.name, "passengers");
        assert_eq!(s.index, ["1949-01", "1949-02"]);
        assert_eq!(s.values, [112.0, 118.5]);
        assert_eq!((s.len(), s.missing()), (2, 0));
    }

    #[test]
    fn bad_numbers_and_columns_name_the_line() {
        for (text, line, what) in [
            ("month,passengers\n1949-01,112\n1949-02,abc\n", "line 3", "`abc` is not a finite number"),
            ("month,passengers\n1949-01,inf\n", "line 2", "`inf` is not a finite number"),
            ("month,passengers\n1949-01\n", "line 2", "1 column(s)"),
            ("month,passengers\n1949-01,1,2\n", "line 2", "3 column(s)"),
            ("month;passengers\n1949-01,1\n", "line 1", "header"),
            ("", "line 1", "empty header"),
            ("month,passengers\n\n", "line 2", "no data rows"),
        ] {
            let p = temp_csv("bad.csv", text);
            let e = read_series_csv(&p).unwrap_err();
            assert!(matches!(&e, Error::Data { position, .. } if position == line), "{text:?}: {e:?}");
            let msg = e.to_string();
            assert!(msg.contains("bad.csv") && msg.contains(what), "{text:?}: {msg}");
        }
    }

    #[test]
    fn empty_values_are_missing_and_can_be_interpolated() {
        let p = temp_csv("gaps.csv", "date,co2\nd0,\nd1,1\nd2,\nd3,\nd4,4\nd5,\n");
        let mut s = read_series_csv(&p).unwrap();
        assert_eq!(s.len(), 6);
        assert_eq!(s.missing(), 4);
        assert!(s.values[0].is_nan() && s.values[1] == 1.0);
        s.interpolate_missing().unwrap();
        assert_eq!(s.values, [1.0, 1.0, 2.0, 3.0, 4.0, 4.0]);
        let mut none = Series { name: "x".into(), index: vec!["a".into()], values: vec![f64::NAN] };
        assert!(matches!(none.interpolate_missing(), Err(Error::Invalid(_))));
        // A reader that needs every value names the line of the first gap.
        let p = temp_csv("gap.csv", "date,co2\nd0,1\n\nd1,2\nd2,\n");
        let e = read_complete_series_csv(&p).unwrap_err().to_string();
        assert!(e.contains("gap.csv") && e.contains("line 5") && e.contains("`d2`"), "{e}");
        assert_eq!(read_complete_series_csv(temp_csv("full.csv", "date,co2\nd0,1\n")).unwrap().values, [1.0]);
    }

    #[test]
    fn real_airline_passengers() {
        let Some(p) = test_data("timeseries", "airline_passengers.csv") else { return };
        let s = read_series_csv(&p).unwrap();
        assert_eq!(s.name, "passengers_thousands");
        assert_eq!(s.len(), 144);
        assert_eq!((s.index[0].as_str(), s.values[0]), ("1949-01", 112.0));
        assert_eq!(s.index[143], "1960-12");
        assert_eq!(s.missing(), 0);
    }

    #[test]
    fn real_co2_has_missing_weeks() {
        let Some(p) = test_data("timeseries", "co2_weekly.csv") else { return };
        let mut s = read_series_csv(&p).unwrap();
        assert_eq!(s.len(), 2284);
        assert!(s.missing() > 0);
        assert!(s.values[6].is_nan(), "1958-05-10 is missing");
        s.interpolate_missing().unwrap();
        assert_eq!(s.missing(), 0);
    }
}
