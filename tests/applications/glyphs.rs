//! The ten synthetic glyphs the captioner and the CRNN tests compose.

use dl_core::data::idx::ImageSet;

/// Ten 28x28 glyphs, each a different pattern of bright 7x7 blocks, labelled 0-9.
pub fn glyphs() -> (ImageSet, Vec<u8>) {
    let codes: [u16; 10] = [0x0F0F, 0x3C3C, 0xF00F, 0x6996, 0x9009, 0x0FF0, 0xA5A5, 0x1248, 0x8421, 0x7E7E];
    let mut pixels = Vec::with_capacity(10 * 28 * 28);
    for code in codes {
        for r in 0..28 {
            for c in 0..28 {
                pixels.push(if code >> ((r / 7) * 4 + c / 7) & 1 == 1 { 255 } else { 0 });
            }
        }
    }
    (ImageSet { n: 10, rows: 28, cols: 28, pixels }, (0..10).collect())
}
