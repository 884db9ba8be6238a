//! Captioned scenes composed from single-item images: two or three
//! handwritten digits and clothing items in the cells of a grid, with a
//! caption from a small grammar that names them and where each stands
//! ("a sneaker to the left of a 7 , a bag below the 7").
//!
//! No captioned dataset is at hand, so scenes are composed from pools of
//! MNIST and Fashion-MNIST images, training scenes from training pools,
//! test scenes from test pools. A scene is a pure function of the seed and
//! its index, and its caption a pure function of the scene.

use burn::config::Config;

use dl_core::Error as DataError;
use dl_core::config::check;
use dl_core::data::idx::ImageSet;
use dl_core::data::split::SplitRng;

/// The 20 item names: the digits 0-9, then Fashion-MNIST's classes 0-9.
pub const ITEM_NAMES: [&str; 20] = [
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "t-shirt", "trouser", "pullover", "dress", "coat", "sandal",
    "shirt", "sneaker", "bag", "boot",
];

/// Padding, start and end tokens: ids 0, 1 and 2 of [`vocabulary`].
pub const PAD: usize = 0;
/// Start of a caption.
pub const BOS: usize = 1;
/// End of a caption.
pub const EOS: usize = 2;

/// Every word a caption can hold, the special tokens first (`<pad>`, `<bos>`, `<eos>`).
pub fn vocabulary() -> Vec<&'static str> {
    let mut v = vec!["<pad>", "<bos>", "<eos>", "a", "the", ",", "to", "left", "right", "of", "above", "below", "and"];
    v.extend(ITEM_NAMES);
    v
}

/// The images of one source (digits or clothing) a scene may use, by class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemPool {
    by_class: Vec<Vec<usize>>,
}

impl ItemPool {
    /// The `members` (indices into an [`ImageSet`] labelled by `labels`, classes 0-9), by class.
    ///
    /// # Errors
    /// [`DataError::OutOfRange`] for a member past `labels` or a label past 9;
    /// [`DataError::Empty`] when a class has no member.
    pub fn new(labels: &[u8], members: &[usize]) -> dl_core::Result<Self> {
        let mut by_class = vec![Vec::new(); 10];
        for &m in members {
            let label = *labels
                .get(m)
                .ok_or_else(|| DataError::out_of_range("item pool member", m, format!("below {}", labels.len())))?;
            by_class
                .get_mut(usize::from(label))
                .ok_or_else(|| DataError::out_of_range("item pool label", label, "0..=9"))?
                .push(m);
        }
        if let Some(k) = by_class.iter().position(Vec::is_empty) {
            return Err(DataError::empty(format!("item pool: class {k} has no image")));
        }
        Ok(ItemPool { by_class })
    }
}

/// How scenes are laid out.
#[derive(Config, Debug, PartialEq)]
pub struct GridSceneConfig {
    /// Cells per side of the grid.
    #[config(default = 2)]
    pub cells: usize,
    /// Side of a cell in pixels (at least 28: items are 28x28).
    #[config(default = 32)]
    pub cell: usize,
    /// Fewest items in a scene.
    #[config(default = 2)]
    pub min_items: usize,
    /// Most items in a scene.
    #[config(default = 3)]
    pub max_items: usize,
}

/// One item of a scene.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item {
    /// 0-9: a digit, 10-19: a clothing class (index into [`ITEM_NAMES`]).
    pub class: usize,
    /// Index of its image in the digit or the clothing [`ImageSet`].
    pub image: usize,
    /// Its cell, row-major.
    pub cell: usize,
    /// Offset of the image inside its cell (x, y).
    pub offset: (usize, usize),
}

/// A composed scene: its items in reading order (cells row by row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GridScene {
    /// The items.
    pub items: Vec<Item>,
}

impl GridSceneConfig {
    /// Checks the sizes.
    pub fn validate(&self) -> dl_core::Result<()> {
        const C: &str = "GridSceneConfig";
        check::positive(C, "cells", self.cells)?;
        if self.cell < 28 {
            return Err(DataError::config(
                C,
                "cell",
                format!("must be at least 28 (the items' size), got {}", self.cell),
            ));
        }
        if self.min_items < 2 {
            return Err(DataError::config(
                C,
                "min_items",
                format!("a caption relates at least 2 items, got {}", self.min_items),
            ));
        }
        if self.max_items < self.min_items || self.max_items > (self.cells * self.cells).min(20) {
            return Err(DataError::config(
                C,
                "max_items",
                format!(
                    "must be in min_items = {}..={} (cells, and 20 distinct classes), got {}",
                    self.min_items,
                    (self.cells * self.cells).min(20),
                    self.max_items
                ),
            ));
        }
        Ok(())
    }

    /// Side of the square canvas.
    pub fn side(&self) -> usize {
        self.cells * self.cell
    }

    /// The scene number `index` of a set drawn with `seed` from the pools:
    /// distinct cells, distinct classes, digits and clothing equally likely.
    pub fn plan(&self, digits: &ItemPool, clothing: &ItemPool, seed: u64, index: usize) -> dl_core::Result<GridScene> {
        self.validate()?;
        let mut rng = SplitRng::new(seed.wrapping_mul(0xA24B_AED4_963E_E407) ^ (index as u64).wrapping_add(1));
        let n = self.min_items + rng.below(self.max_items - self.min_items + 1);
        let mut cells: Vec<usize> = (0..self.cells * self.cells).collect();
        dl_core::data::split::shuffle(&mut cells, rng.next_u64());
        let mut cells = cells[..n].to_vec();
        cells.sort_unstable();
        let mut classes: Vec<usize> = (0..20).collect();
        dl_core::data::split::shuffle(&mut classes, rng.next_u64());
        let slack = self.cell - 28;
        let items = cells
            .into_iter()
            .zip(classes)
            .map(|(cell, class)| {
                let pool = if class < 10 { &digits.by_class[class] } else { &clothing.by_class[class - 10] };
                let image = pool[rng.below(pool.len())];
                Item { class, image, cell, offset: (rng.below(slack + 1), rng.below(slack + 1)) }
            })
            .collect();
        Ok(GridScene { items })
    }

    /// Draws `scene`: a `side * side` canvas, row-major, 0 (paper) to 1 (ink).
    ///
    /// # Errors
    /// [`DataError::OutOfRange`] for an image past its set, a set that is not
    /// 28x28, or an item outside the grid.
    pub fn render(&self, scene: &GridScene, digits: &ImageSet, clothing: &ImageSet) -> dl_core::Result<Vec<f32>> {
        let side = self.side();
        let mut canvas = vec![0.0f32; side * side];
        for item in &scene.items {
            let set = if item.class < 10 { digits } else { clothing };
            if set.rows != 28 || set.cols != 28 {
                return Err(DataError::out_of_range(
                    "grid scene image size",
                    format!("{}x{}", set.rows, set.cols),
                    "28x28",
                ));
            }
            if item.image >= set.n {
                return Err(DataError::out_of_range("grid scene image", item.image, format!("below {}", set.n)));
            }
            let (ox, oy) = item.offset;
            if item.cell >= self.cells * self.cells || ox + 28 > self.cell || oy + 28 > self.cell {
                return Err(DataError::out_of_range(
                    "grid scene item",
                    format!("cell {} at {:?}", item.cell, item.offset),
                    "inside the grid",
                ));
            }
            let (x0, y0) = ((item.cell % self.cells) * self.cell + ox, (item.cell / self.cells) * self.cell + oy);
            let pixels = &set.pixels[item.image * 784..(item.image + 1) * 784];
            for r in 0..28 {
                for c in 0..28 {
                    canvas[(y0 + r) * side + x0 + c] = f32::from(pixels[r * 28 + c]) / 255.0;
                }
            }
        }
        Ok(canvas)
    }

    /// Where item `a` stands relative to item `b` ("to the left of", "above and to the right of").
    fn relation(&self, a: &Item, b: &Item) -> Vec<&'static str> {
        let (ra, ca) = (a.cell / self.cells, a.cell % self.cells);
        let (rb, cb) = (b.cell / self.cells, b.cell % self.cells);
        let vertical = match ra.cmp(&rb) {
            std::cmp::Ordering::Less => Some("above"),
            std::cmp::Ordering::Greater => Some("below"),
            std::cmp::Ordering::Equal => None,
        };
        let side = match ca.cmp(&cb) {
            std::cmp::Ordering::Less => Some("left"),
            std::cmp::Ordering::Greater => Some("right"),
            std::cmp::Ordering::Equal => None,
        };
        let mut words: Vec<&'static str> = vertical.into_iter().collect();
        if let Some(side) = side {
            if vertical.is_some() {
                words.push("and");
            }
            words.extend(["to", "the", side, "of"]);
        }
        words
    }

    /// The caption of `scene`: the first item relative to the second
    /// ("a X &lt;where&gt; a Y"), then each later item relative to the one before
    /// it (", a Z &lt;where&gt; the Y").
    pub fn caption(&self, scene: &GridScene) -> Vec<&'static str> {
        let mut words = Vec::new();
        let name = |i: &Item| ITEM_NAMES[i.class];
        if let [first, second, rest @ ..] = scene.items.as_slice() {
            words.extend(["a", name(first)]);
            words.extend(self.relation(first, second));
            words.extend(["a", name(second)]);
            let mut previous = second;
            for item in rest {
                words.extend([",", "a", name(item)]);
                words.extend(self.relation(item, previous));
                words.extend(["the", name(previous)]);
                previous = item;
            }
        }
        words
    }

    /// The caption as token ids of [`vocabulary`], ended by [`EOS`].
    pub fn caption_ids(&self, scene: &GridScene) -> Vec<usize> {
        let vocab = vocabulary();
        let mut ids: Vec<usize> =
            self.caption(scene).iter().map(|w| vocab.iter().position(|v| v == w).unwrap_or(PAD)).collect();
        ids.push(EOS);
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 20 images of 28x28: image i is filled with the value 10 + i, labelled i % 10.
    fn set() -> (ImageSet, Vec<u8>) {
        let pixels = (0..20u8).flat_map(|i| std::iter::repeat_n(10 + i, 784)).collect();
        (ImageSet { n: 20, rows: 28, cols: 28, pixels }, (0..20).map(|i| i % 10).collect())
    }

    #[test]
    fn scenes_are_a_function_of_seed_and_index_and_captions_of_scenes() {
        let (_, labels) = set();
        let pool = ItemPool::new(&labels, &(0..20).collect::<Vec<_>>()).unwrap();
        let cfg = GridSceneConfig::new();
        let mut lengths = std::collections::BTreeSet::new();
        for i in 0..500 {
            let s = cfg.plan(&pool, &pool, 3, i).unwrap();
            assert_eq!(s, cfg.plan(&pool, &pool, 3, i).unwrap());
            assert!((2..=3).contains(&s.items.len()));
            assert!(s.items.windows(2).all(|w| w[0].cell < w[1].cell));
            let mut classes: Vec<usize> = s.items.iter().map(|i| i.class).collect();
            classes.sort_unstable();
            classes.dedup();
            assert_eq!(classes.len(), s.items.len());
            for item in &s.items {
                assert_eq!(usize::from(labels[item.image]), item.class % 10);
                assert!(item.offset.0 <= 4 && item.offset.1 <= 4);
            }
            let ids = cfg.caption_ids(&s);
            assert!(ids.iter().all(|&t| t != PAD) && ids.last() == Some(&EOS));
            lengths.insert(ids.len());
        }
        // Two items: 6-11 tokens with EOS; three add 6-11 more.
        assert!(lengths.iter().all(|l| (6..=22).contains(l)), "{lengths:?}");
    }

    #[test]
    fn captions_follow_the_grammar() {
        let cfg = GridSceneConfig::new();
        let item = |class, cell| Item { class, image: 0, cell, offset: (0, 0) };
        let caption = |items: Vec<Item>| cfg.caption(&GridScene { items }).join(" ");
        assert_eq!(caption(vec![item(17, 0), item(7, 1)]), "a sneaker to the left of a 7");
        assert_eq!(caption(vec![item(3, 0), item(18, 2)]), "a 3 above a bag");
        assert_eq!(caption(vec![item(3, 1), item(18, 2)]), "a 3 above and to the right of a bag");
        assert_eq!(
            caption(vec![item(17, 0), item(7, 1), item(18, 3)]),
            "a sneaker to the left of a 7 , a bag below the 7"
        );
        assert_eq!(
            caption(vec![item(19, 1), item(0, 2), item(12, 3)]),
            "a boot above and to the right of a 0 , a pullover to the right of the 0"
        );
    }

    #[test]
    fn rendering_places_each_item_in_its_cell() {
        let (images, labels) = set();
        let pool = ItemPool::new(&labels, &(0..20).collect::<Vec<_>>()).unwrap();
        let cfg = GridSceneConfig::new();
        let s = cfg.plan(&pool, &pool, 1, 7).unwrap();
        let canvas = cfg.render(&s, &images, &images).unwrap();
        assert_eq!(canvas.len(), 64 * 64);
        let ink: f32 = canvas.iter().sum();
        let expected: f32 = s.items.iter().map(|i| 784.0 * f32::from(10 + i.image as u8) / 255.0).sum();
        assert!((ink - expected).abs() < 1e-2);
        for item in &s.items {
            let (x, y) = ((item.cell % 2) * 32 + item.offset.0, (item.cell / 2) * 32 + item.offset.1);
            assert_eq!(canvas[(y + 27) * 64 + x + 27], f32::from(10 + item.image as u8) / 255.0);
        }
        let bad = GridScene { items: vec![Item { class: 0, image: 20, cell: 0, offset: (0, 0) }] };
        assert!(matches!(cfg.render(&bad, &images, &images), Err(DataError::OutOfRange { .. })));
    }

    #[test]
    fn only_pool_images_are_drawn_and_bad_configs_are_errors() {
        let (_, labels) = set();
        // Classes 0-9 from images 10-19 only.
        let pool = ItemPool::new(&labels, &(10..20).collect::<Vec<_>>()).unwrap();
        let cfg = GridSceneConfig::new();
        for i in 0..200 {
            assert!(cfg.plan(&pool, &pool, 2, i).unwrap().items.iter().all(|item| item.image >= 10));
        }
        assert!(matches!(ItemPool::new(&labels, &[0, 1]), Err(DataError::Empty { .. })));
        assert!(matches!(ItemPool::new(&labels, &[25]), Err(DataError::OutOfRange { .. })));
        for (cfg, field) in [
            (GridSceneConfig::new().with_cell(20), "cell"),
            (GridSceneConfig::new().with_min_items(1), "min_items"),
            (GridSceneConfig::new().with_max_items(5), "max_items"),
            (GridSceneConfig::new().with_cells(0), "cells"),
        ] {
            match cfg.plan(&pool, &pool, 0, 0) {
                Err(DataError::Config { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }
}
