//! The fused attention weights and context equal burn's composition
//! (`softmax(q kᵀ · scale + mask)`, `weights · v`, heads merged) in values
//! and in the gradients of the queries, keys, values and a trainable mask:
//! heads split from a projection (strided views), grouped-query heads, causal
//! and padding masks, one query over several keys.

use burn::tensor::{Device, Distribution, Tensor, TensorData};

use crate::common::{close, values, weights};

/// burn's composition, grouped heads repeated.
fn composed(q: Tensor<4>, k: Tensor<4>, v: Tensor<4>, mask: Option<Tensor<4>>, scale: f64) -> (Tensor<4>, Tensor<3>) {
    let [b, h, l, _] = q.dims();
    let rep = h / k.dims()[1];
    let repeat = |x: Tensor<4>| {
        let [b, g, t, d] = x.dims();
        x.unsqueeze_dim::<5>(2).repeat_dim(2, rep).reshape([b, g * rep, t, d])
    };
    let scores = q.matmul(repeat(k).swap_dims(2, 3)).mul_scalar(scale);
    let scores = match mask {
        Some(m) => scores.clone() + m.expand(scores.dims()),
        None => scores,
    };
    let p = burn::tensor::activation::softmax(scores, 3);
    let v = repeat(v);
    let d = v.dims()[3];
    let ctx = p.clone().matmul(v).swap_dims(1, 2).reshape([b, l, h * d]);
    (p, ctx)
}

/// A causal mask `[1, 1, L, S]` (the last `L` of `S` positions query).
fn causal(l: usize, s: usize, device: &Device) -> Tensor<4> {
    let values: Vec<f32> = (0..l).flat_map(|i| (0..s).map(move |j| if j <= s - l + i { 0.0 } else { -1e9 })).collect();
    Tensor::from_data(TensorData::new(values, [1, 1, l, s]), device)
}

#[test]
fn attention_equals_burns_composition_in_values_and_gradients() {
    let ad = Device::flex().autodiff();
    ad.seed(41);
    assert!(dl_kernels::fused_on(&ad));
    // (batch, query heads, key/value heads, queries, keys, head width, mask)
    let cases: [(usize, usize, usize, usize, usize, usize, &str); 6] = [
        (2, 4, 4, 16, 16, 8, "causal"),
        (3, 4, 2, 7, 7, 5, "causal"),
        (2, 2, 1, 1, 5, 3, "causal"),
        (2, 3, 3, 6, 9, 4, "padding"),
        (1, 2, 2, 5, 5, 3, "none"),
        (16, 4, 4, 128, 128, 32, "causal"),
    ];
    for (b, h, kv, l, s, d, kind) in cases {
        // Heads split from projections `[B, T, heads · d]`, as the models do.
        let split = |t: usize, heads: usize, std: f64| {
            Tensor::<3>::random([b, t, heads * d], Distribution::Normal(0.0, std), &ad).require_grad()
        };
        let (xq, xk, xv) = (split(l, h, 1.0), split(s, kv, 1.0), split(s, kv, 1.0));
        let heads = |x: Tensor<3>, heads: usize| {
            let [b, t, _] = x.dims();
            x.reshape([b, t, heads, d]).swap_dims(1, 2)
        };
        let mask = match kind {
            "causal" => Some(causal(l, s, &ad)),
            "padding" => {
                let m: Vec<f32> = (0..b * s).map(|i| if i % s >= s - (i / s) { -1e9 } else { 0.0 }).collect();
                Some(Tensor::<4>::from_data(TensorData::new(m, [b, 1, 1, s]), &ad))
            }
            _ => None,
        };
        let scale = 1.0 / (d as f64).sqrt();
        let run = |fused: bool| {
            let (q, k, v) = (heads(xq.clone(), h), heads(xk.clone(), kv), heads(xv.clone(), kv));
            let (p, ctx) = if fused {
                let p = dl_kernels::attention_weights(q, k, mask.clone(), scale);
                (p.clone(), dl_kernels::attention_context(p, v))
            } else {
                composed(q, k, v, mask.clone(), scale)
            };
            // A loss on both outputs: the weights keep their own gradient.
            let loss = (ctx.clone() * weights(ctx.dims(), &ad)).sum() + (p.clone() * weights(p.dims(), &ad)).sum();
            let grads = loss.backward();
            [
                values(p),
                values(ctx),
                values(xq.grad(&grads).unwrap()),
                values(xk.grad(&grads).unwrap()),
                values(xv.grad(&grads).unwrap()),
            ]
        };
        let (fused, plain) = (run(true), run(false));
        for (i, what) in ["weights", "context", "query gradient", "key gradient", "value gradient"].iter().enumerate() {
            close(&fused[i], &plain[i], &format!("{b}x{h}/{kv} heads, {l} over {s}, d {d}, {kind}: {what}"));
        }
    }
}

#[test]
fn a_trainable_mask_gets_its_gradient_and_inference_matches() {
    let ad = Device::flex().autodiff();
    ad.seed(42);
    let (b, h, l, s, d) = (2, 3, 4, 6, 5);
    let q = Tensor::<4>::random([b, h, l, d], Distribution::Normal(0.0, 1.0), &ad).require_grad();
    let k = Tensor::<4>::random([b, h, s, d], Distribution::Normal(0.0, 1.0), &ad).require_grad();
    let v = Tensor::<4>::random([b, h, s, d], Distribution::Normal(0.0, 1.0), &ad);
    // A bias per head and key position, broadcast over batch and queries.
    let bias = Tensor::<4>::random([1, h, 1, s], Distribution::Normal(0.0, 1.0), &ad).require_grad();
    let run = |fused: bool| {
        let (p, ctx) = if fused {
            let p = dl_kernels::attention_weights(q.clone(), k.clone(), Some(bias.clone()), 0.5);
            (p.clone(), dl_kernels::attention_context(p, v.clone()))
        } else {
            composed(q.clone(), k.clone(), v.clone(), Some(bias.clone()), 0.5)
        };
        let grads = (ctx.clone() * weights(ctx.dims(), &ad)).sum().backward();
        [
            values(p),
            values(bias.grad(&grads).unwrap()),
            values(q.grad(&grads).unwrap()),
            values(k.grad(&grads).unwrap()),
        ]
    };
    let (fused, plain) = (run(true), run(false));
    for (i, what) in ["weights", "mask gradient", "query gradient", "key gradient"].iter().enumerate() {
        close(&fused[i], &plain[i], what);
    }
    // Without autodiff.
    let device = Device::flex();
    let (q, k, v) = (q.inner(), k.inner(), v.inner());
    let p = dl_kernels::attention_weights(q.clone(), k.clone(), None, 0.5);
    let (p_ref, ctx_ref) = composed(q, k, v.clone(), None, 0.5);
    assert_eq!(p.device(), device);
    close(&values(p.clone()), &values(p_ref), "inference weights");
    close(&values(dl_kernels::attention_context(p, v)), &values(ctx_ref), "inference context");
}
