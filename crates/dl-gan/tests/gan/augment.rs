//! Differentiable augmentation: moves and cuts as drawn, gradients back
//! through both, draws in range, config checks, a trainer that uses it.

use super::*;
use dl_gan::augment::{Augment, Draw};

fn ints(v: &[i64], d: &Device) -> Tensor<2, Int> {
    Tensor::from_data(TensorData::new(v.to_vec(), [v.len(), 1]), d)
}

/// The augmentation on the host: sample `i` of `[C, H, W]` images moved by
/// `shift[i]` along the width (zeros in), then the rectangle at
/// (`top[i]`, `left[i]`) of `sh` x `sw` zeroed.
#[allow(clippy::too_many_arguments)]
fn by_hand(
    x: &[f32],
    [c, h, w]: [usize; 3],
    shift: &[i64],
    top: &[i64],
    left: &[i64],
    sh: usize,
    sw: usize,
) -> Vec<f32> {
    let dim = c * h * w;
    let mut out = vec![0.0; x.len()];
    for i in 0..x.len() / dim {
        for ch in 0..c {
            for y in 0..h {
                for col in 0..w {
                    let from = col as i64 - shift[i];
                    let cut = (y as i64) >= top[i]
                        && (y as i64) < top[i] + sh as i64
                        && (col as i64) >= left[i]
                        && (col as i64) < left[i] + sw as i64;
                    if (0..w as i64).contains(&from) && !cut {
                        out[i * dim + (ch * h + y) * w + col] = x[i * dim + (ch * h + y) * w + from as usize];
                    }
                }
            }
        }
    }
    out
}

#[test]
fn samples_move_and_are_cut_as_drawn_and_gradients_flow_back() {
    let _rng = rng_lock();
    let d = device();
    let ad = d.clone().autodiff();
    let shape = [2, 4, 6];
    let x: Vec<f32> = (0..3 * 48).map(|i| (i as f32 * 0.37).sin()).collect();
    let aug = Augment { shift: 3, cutout: 0.5 };
    // Sample 0 moves right by 2, sample 1 left by 3, sample 2 stays; 2 x 3 rectangles.
    let (shift, top, left) = ([2i64, -3, 0], [0i64, 2, 1], [3i64, 0, 2]);
    let draw = Draw { shift: ints(&shift, &ad), top: ints(&top, &ad), left: ints(&left, &ad) };
    let xt = Tensor::<2>::from_data(TensorData::new(x.clone(), [3, 48]), &ad).require_grad();
    let out = aug.apply(xt.clone(), shape, &draw);
    let want = by_hand(&x, shape, &shift, &top, &left, 2, 3);
    assert_eq!(to_f32(out.clone()).unwrap(), want);
    // d(sum(out * w))/dx: each output's weight back at the input it reads.
    let w: Vec<f32> = (0..3 * 48).map(|i| 1.0 + i as f32).collect();
    let grads = (out * Tensor::<2>::from_data(TensorData::new(w.clone(), [3, 48]), &ad)).sum().backward();
    let got = to_f32(xt.grad(&grads).unwrap()).unwrap();
    // The same map applied to one-hot inputs gives, per input, where its value went.
    let mut expected = vec![0.0f32; x.len()];
    for (k, e) in expected.iter_mut().enumerate() {
        let mut one = vec![0.0; x.len()];
        one[k] = 1.0;
        *e = by_hand(&one, shape, &shift, &top, &left, 2, 3).iter().zip(&w).map(|(a, b)| a * b).sum();
    }
    assert_eq!(got, expected);
    // Without a rectangle only the move is made.
    let moved = Augment { shift: 3, cutout: 0.0 }.apply(
        Tensor::from_data(TensorData::new(x.clone(), [3, 48]), &d),
        shape,
        &draw,
    );
    assert_eq!(to_f32(moved).unwrap(), by_hand(&x, shape, &shift, &top, &left, 0, 0));
}

#[test]
fn draws_stay_in_range_and_bad_settings_are_config_errors() {
    let _rng = rng_lock();
    let d = device();
    d.seed(5);
    let draw = Augment { shift: 2, cutout: 0.25 }.draw(2000, [1, 8, 12], &d);
    let values = |t: Tensor<2, Int>| t.into_data().convert::<i64>().try_to_vec::<i64>().unwrap();
    let (shift, top, left) = (values(draw.shift), values(draw.top), values(draw.left));
    // Every move in [-2, 2] occurs; a 2 x 3 rectangle fits rows 0..=6 and columns 0..=9.
    for m in -2..=2 {
        assert!(shift.contains(&m), "no move of {m}");
    }
    assert!(shift.iter().all(|m| (-2..=2).contains(m)));
    assert!(top.iter().all(|t| (0..=6).contains(t)) && top.contains(&0) && top.contains(&6));
    assert!(left.iter().all(|l| (0..=9).contains(l)) && left.contains(&0) && left.contains(&9));
    let err = |cfg: GanTrainConfig| cfg.validate().unwrap_err().to_string();
    let with =
        |augment, shape| GanTrainConfig { augment: Some(augment), image_shape: shape, ..GanTrainConfig::default() };
    assert!(err(with(Augment { shift: 2, cutout: 0.0 }, None)).contains("needs image_shape"));
    assert!(err(with(Augment { shift: 12, cutout: 0.0 }, Some([1, 8, 12]))).contains("augment.shift"));
    assert!(err(with(Augment { shift: 0, cutout: 1.0 }, Some([1, 8, 12]))).contains("augment.cutout"));
    assert!(err(with(Augment { shift: 0, cutout: 0.0 }, Some([1, 8, 12]))).contains("moves nothing"));
    assert!(with(Augment { shift: 0, cutout: 0.5 }, Some([1, 8, 12])).validate().is_ok());
}

#[test]
fn a_gan_trains_with_augmentation() {
    let _rng = rng_lock();
    let ad = device().autodiff();
    let data = GanData::new((0..64 * 64).map(|i| ((i % 11) as f32 / 5.5) - 1.0).collect(), 64, None).unwrap();
    let run = |augment: Option<Augment>| {
        ad.seed(7);
        let gan = DcganConfig::new().with_image_size(8).with_base_channels(4).with_latent_dim(8).init(&ad).unwrap();
        let cfg = GanTrainConfig { image_shape: Some([1, 8, 8]), augment, ..quick(1, 4) };
        let r = train_gan(gan.generator, gan.discriminator, &data, &cfg, &ad).unwrap();
        (params(&r.generator), params(&r.discriminator), r.state.epochs[0].d_loss)
    };
    let (g0, d0, _) = run(None);
    let (g1, d1, loss) = run(Some(Augment { shift: 2, cutout: 0.25 }));
    assert!(loss.is_finite());
    // The discriminator sees other samples, so both networks train differently.
    assert!(g0 != g1 && d0 != d1);
}
