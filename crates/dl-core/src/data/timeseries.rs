//! Univariate time series in CSV: a header line, then `date-or-index,value`.

use std::path::Path;

use super::read_maybe_gz;
use crate::{Error, Result};

/// A named series.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The value column's header.
    pub name: String,
    /// First column of each row (a date or an index).
    pub index: Vec<String>,
    /// Second column of each row.
    pub values: Vec<f64>,
}

/// Reads a series CSV; a missing column or a non-numeric value is an error naming the line.
pub fn read_series_csv(path: &Path) -> Result<Series> {
    let bytes = read_maybe_gz(path)?;
    let text = String::from_utf8(bytes).map_err(|_| Error::data(path, "file", "invalid UTF-8"))?;
    let mut lines = text.lines().enumerate();
    let (_, header) = lines.next().ok_or_else(|| Error::data(path, "line 1", "empty file (expected a header)"))?;
    let name = header
        .split(',')
        .nth(1)
        .ok_or_else(|| Error::data(path, "line 1", "header has no value column"))?
        .trim()
        .to_string();
    let mut index = Vec::new();
    let mut values = Vec::new();
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let mut cols = line.split(',');
        let (Some(k), Some(v)) = (cols.next(), cols.next()) else {
            return Err(Error::data(path, format!("line {}", i + 1), "expected `index,value`"));
        };
        let v: f64 = v
            .trim()
            .parse()
            .map_err(|_| Error::data(path, format!("line {}", i + 1), format!("`{}` is not a number", v.trim())))?;
        index.push(k.trim().to_string());
        values.push(v);
    }
    Ok(Series { name, index, values })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_reports_bad_lines() {
        let dir = std::env::temp_dir().join(format!("dl-core-ts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("s.csv");
        std::fs::write(&p, "month,passengers\n1949-01,112\n1949-02,118\n").unwrap();
        let s = read_series_csv(&p).unwrap();
        assert_eq!(s.name, "passengers");
        assert_eq!(s.values, vec![112.0, 118.0]);
        std::fs::write(&p, "month,passengers\n1949-01,abc\n").unwrap();
        assert!(read_series_csv(&p).unwrap_err().to_string().contains("line 2"));
        let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/timeseries/airline_passengers.csv");
        if real.is_file() {
            assert_eq!(read_series_csv(&real).unwrap().values.len(), 144);
        }
    }
}
