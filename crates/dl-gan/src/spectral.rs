//! Spectrally normalised linear and convolution layers (Miyato et al. 2018):
//! each weight (a kernel seen as `[out, in * kh * kw]`) divided by its
//! largest singular value, estimated by one power-iteration step per training
//! forward pass from a persistent vector `u` (a [`RunningState`], saved with
//! the weights; not updated outside training). The op is
//! [`dl_kernels::spectral_normalize`]; why it stabilises a GAN: `docs/gan.md`.

use burn::module::{Module, Param, RunningState};
use burn::nn::LinearConfig;
use burn::nn::conv::Conv2dConfig;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Distribution, Tensor};

/// The power-iteration state of one normalised weight.
#[derive(Module, Debug)]
pub struct SpectralNorm {
    /// Left singular vector estimate `[rows]`.
    u: RunningState<Tensor<1>>,
    #[module(skip)]
    iterations: usize,
}

impl SpectralNorm {
    /// A state for a `rows x cols` weight matrix with a random unit `u`.
    pub fn new(rows: usize, iterations: usize, device: &Device) -> Self {
        let u = dl_kernels::unit_vector(Tensor::random([rows], Distribution::Normal(0.0, 1.0), device));
        SpectralNorm { u: RunningState::new(u), iterations: iterations.max(1) }
    }

    /// `W / σ(W)` for `w` `[rows, cols]`, gradients reaching `w` through
    /// `σ` too ([`dl_kernels::spectral_normalize`]). Updates `u` when `w` is
    /// on an autodiff device (training).
    pub fn normalize(&self, w: Tensor<2>) -> Tensor<2> {
        let device = w.device();
        let u = self.u.value_sync().to_device(&device);
        let out = dl_kernels::spectral_normalize(w, u, self.iterations);
        if device.is_autodiff() {
            self.u.update(out.u);
            // Merge the update now: a checkpoint taken after this step must hold it
            // (`RunningState::value` may otherwise lag by one update).
            let _ = self.u.value_sync();
        }
        out.weight
    }
}

/// A linear layer with a spectrally normalised weight.
#[derive(Module, Debug)]
pub struct SnLinear {
    /// Weight `[d_input, d_output]` (burn's layout; `σ` of it equals `σ` of PyTorch's transpose).
    pub weight: Param<Tensor<2>>,
    /// Bias `[d_output]`.
    pub bias: Param<Tensor<1>>,
    sn: SpectralNorm,
}

impl SnLinear {
    /// A `d_input -> d_output` layer, initialised like burn's `Linear`.
    pub fn new(d_input: usize, d_output: usize, device: &Device) -> Self {
        let l = LinearConfig::new(d_input, d_output).init(device);
        let bias = l.bias.unwrap_or_else(|| Param::from_tensor(Tensor::zeros([d_output], device)));
        SnLinear { weight: l.weight, bias, sn: SpectralNorm::new(d_input, 1, device) }
    }

    /// The normalised weight `W / σ(W)`.
    pub fn normalized_weight(&self) -> Tensor<2> {
        self.sn.normalize(self.weight.val())
    }

    /// `[B, d_input] -> [B, d_output]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        dl_kernels::affine(x, self.normalized_weight(), Some(self.bias.val()))
    }
}

/// A 2-D convolution with a spectrally normalised kernel (square kernel, stride and padding).
#[derive(Module, Debug)]
pub struct SnConv2d {
    /// Kernel `[out, in, k, k]`.
    pub weight: Param<Tensor<4>>,
    /// Bias `[out]`.
    pub bias: Param<Tensor<1>>,
    sn: SpectralNorm,
    #[module(skip)]
    stride: usize,
    #[module(skip)]
    padding: usize,
}

impl SnConv2d {
    /// `channels[0] -> channels[1]` with a `kernel x kernel` kernel, initialised like burn's `Conv2d`.
    pub fn new(channels: [usize; 2], kernel: usize, stride: usize, padding: usize, device: &Device) -> Self {
        let c = Conv2dConfig::new(channels, [kernel, kernel]).init(device);
        let bias = c.bias.unwrap_or_else(|| Param::from_tensor(Tensor::zeros([channels[1]], device)));
        SnConv2d { weight: c.weight, bias, sn: SpectralNorm::new(channels[1], 1, device), stride, padding }
    }

    /// `[B, in, H, W] -> [B, out, H', W']`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let w = self.weight.val();
        let dims = w.dims();
        let w = self.sn.normalize(w.reshape([dims[0], dims[1] * dims[2] * dims[3]])).reshape(dims);
        let (s, p) = (self.stride, self.padding);
        conv2d(x, w, Some(self.bias.val()), ConvOptions::new([s, s], [p, p], [1, 1], 1))
    }
}

/// A discriminator linear layer: plain (burn's `Linear`) or spectrally normalised.
#[derive(Module, Debug)]
pub enum DiscLinear {
    /// burn's `Linear`.
    Plain(burn::nn::Linear),
    /// [`SnLinear`].
    Spectral(SnLinear),
}

impl DiscLinear {
    /// A `d_input -> d_output` layer, spectrally normalised when `spectral` is set.
    pub fn new(
        d_input: usize,
        d_output: usize,
        spectral: bool,
        init: Option<burn::nn::Initializer>,
        device: &Device,
    ) -> Self {
        match (spectral, init) {
            (true, _) => DiscLinear::Spectral(SnLinear::new(d_input, d_output, device)),
            (false, None) => DiscLinear::Plain(LinearConfig::new(d_input, d_output).init(device)),
            (false, Some(i)) => {
                DiscLinear::Plain(LinearConfig::new(d_input, d_output).with_initializer(i).init(device))
            }
        }
    }

    /// `[B, d_input] -> [B, d_output]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        match self {
            DiscLinear::Plain(l) => dl_kernels::linear(l, x),
            DiscLinear::Spectral(l) => l.forward(x),
        }
    }
}

/// A discriminator convolution: plain (burn's `Conv2d`) or spectrally normalised.
#[derive(Module, Debug)]
pub enum DiscConv2d {
    /// burn's `Conv2d`.
    Plain(burn::nn::conv::Conv2d),
    /// [`SnConv2d`].
    Spectral(SnConv2d),
}

impl DiscConv2d {
    /// A square-kernel convolution, spectrally normalised when `spectral` is set.
    pub fn new(
        channels: [usize; 2],
        kernel: usize,
        stride: usize,
        padding: usize,
        spectral: bool,
        init: Option<burn::nn::Initializer>,
        device: &Device,
    ) -> Self {
        if spectral {
            return DiscConv2d::Spectral(SnConv2d::new(channels, kernel, stride, padding, device));
        }
        let mut c = Conv2dConfig::new(channels, [kernel, kernel])
            .with_stride([stride, stride])
            .with_padding(burn::nn::PaddingConfig2d::Explicit(padding, padding, padding, padding));
        if let Some(i) = init {
            c = c.with_initializer(i);
        }
        DiscConv2d::Plain(c.init(device))
    }

    /// `[B, in, H, W] -> [B, out, H', W']`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            DiscConv2d::Plain(c) => dl_kernels::conv2d(c, x),
            DiscConv2d::Spectral(c) => c.forward(x),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Largest singular value by many power iterations on the host (the reference).
    fn sigma_ref(w: &[f32], rows: usize, cols: usize) -> f32 {
        let mut v = vec![1.0f32; cols];
        for _ in 0..500 {
            let u: Vec<f32> = (0..rows).map(|r| (0..cols).map(|c| w[r * cols + c] * v[c]).sum()).collect();
            let nv: Vec<f32> = (0..cols).map(|c| (0..rows).map(|r| w[r * cols + c] * u[r]).sum()).collect();
            let n = nv.iter().map(|x| x * x).sum::<f32>().sqrt();
            v = nv.iter().map(|x| x / n).collect();
        }
        let u: Vec<f32> = (0..rows).map(|r| (0..cols).map(|c| w[r * cols + c] * v[c]).sum()).collect();
        u.iter().map(|x| x * x).sum::<f32>().sqrt()
    }

    #[test]
    fn power_iteration_converges_to_the_largest_singular_value() {
        let device = dl_core::Backend::Flex.device().unwrap().autodiff();
        device.seed(3);
        let layer = SnLinear::new(12, 7, &device);
        let w = dl_core::task::to_f32(layer.weight.val()).unwrap();
        let expected = sigma_ref(&w, 12, 7);
        // Each training call takes one power-iteration step from the stored
        // estimate: after 30, `σ = W / (W / σ)` is the largest singular value.
        let mut sigma = 0.0;
        for _ in 0..30 {
            let wn = dl_core::task::to_f32(layer.sn.normalize(layer.weight.val())).unwrap();
            sigma = w[0] / wn[0];
        }
        assert!((sigma - expected).abs() < 1e-4 * expected, "{sigma} vs {expected}");
        // After normalisation the largest singular value is 1.
        let wn = dl_core::task::to_f32(layer.normalized_weight()).unwrap();
        assert!((sigma_ref(&wn, 12, 7) - 1.0).abs() < 1e-3);
    }
}
