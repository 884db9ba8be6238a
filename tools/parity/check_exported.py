#!/usr/bin/env python3
"""PyTorch checks models exported from Rust with PyTorch's parameter names.

Reads every fixture (`<name>.json` + `<name>.safetensors`, the format of
shared/parity/FORMAT.md) in the folders given, builds the PyTorch module of
its `module` kind from `config` (the kinds of make_fixtures.py, plus
the modules below: `dcgan_generator`, `dl_resnet`, `dl_vgg`, `dl_textcnn`,
`dl_mlp_generator`, `dl_spec_generator`, `dl_vit`, `dl_seq2seq`, `dl_lstm_seq2seq`), loads the `param.*` tensors with
`load_state_dict(strict=True)` (every key present, none left over), runs the
inputs through it in eval mode and compares its outputs with the ones the
Rust model computed. The fixtures come from the test
`models_export_with_pytorch_names_as_fixtures` (tests/applications/pytorch_export.rs),
which writes them under the temporary folder.

Usage:
    python tools/parity/check_exported.py DIR [DIR ...]
Exits with 1 when any fixture is over its tolerance or fails to load.
"""
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures  # noqa: E402


class DcGenerator(nn.Module):
    """dl_gan's DCGAN generator (crates/dl-gan/src/pytorch.rs)."""

    def __init__(self, latent_dim, channels, image_size, base_channels, num_classes=None):
        super().__init__()
        b, self.q, self.c0 = base_channels, image_size // 4, 2 * base_channels
        n = num_classes or 0
        self.fc = nn.Linear(latent_dim + n, self.c0 * self.q * self.q)
        self.bn0 = nn.BatchNorm2d(self.c0)
        self.up1 = nn.ConvTranspose2d(self.c0, b, 4, 2, 1)
        self.bn1 = nn.BatchNorm2d(b)
        self.up2 = nn.ConvTranspose2d(b, channels, 4, 2, 1)
        self.embed = nn.Embedding(n, n) if num_classes else None

    def forward(self, z, labels=None):
        if self.embed is not None:
            z = torch.cat([z, self.embed(labels)], 1)
        x = self.fc(z).view(z.shape[0], self.c0, self.q, self.q)
        x = F.relu(self.bn0(x))
        x = F.relu(self.bn1(self.up1(x)))
        return torch.tanh(self.up2(x)).flatten(1)


class BasicBlock(nn.Module):
    """torchvision's ResNet basic block."""

    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + identity)


class ResNet(nn.Module):
    """torchvision's ResNet with dl_cnn's small stem (3x3 conv, no max pool)."""

    def __init__(self, in_channels, num_classes, layers, base_width):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, base_width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(base_width)
        c_in = base_width
        for stage, n in enumerate(layers):
            c_out = base_width << stage
            blocks = []
            for b in range(n):
                blocks.append(BasicBlock(c_in, c_out, 2 if stage > 0 and b == 0 else 1))
                c_in = c_out
            setattr(self, f"layer{stage + 1}", nn.Sequential(*blocks))
        self.stages = len(layers)
        self.fc = nn.Linear(c_in, num_classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        for s in range(self.stages):
            x = getattr(self, f"layer{s + 1}")(x)
        return self.fc(x.mean((2, 3)))


class Vgg(nn.Module):
    """torchvision's VGG layout: `features` and `classifier` as nn.Sequential."""

    def __init__(self, in_channels, blocks, hidden, num_classes, flat):
        super().__init__()
        features, c_in = [], in_channels
        for channels, convs, pool in blocks:
            for _ in range(convs):
                features += [nn.Conv2d(c_in, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels), nn.ReLU()]
                c_in = channels
            features.append(nn.MaxPool2d(2) if pool == "max" else nn.AvgPool2d(2))
        self.features = nn.Sequential(*features)
        head, d = [], flat
        for h in hidden:
            head += [nn.Dropout(), nn.Linear(d, h), nn.ReLU()]
            d = h
        self.classifier = nn.Sequential(*head, nn.Dropout(), nn.Linear(d, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


class TextCnn(nn.Module):
    """Kim's CNN for text: embedding, one Conv1d per width, max over time, linear."""

    def __init__(self, vocab_size, num_classes, embed_dim, filter_widths, filters):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.convs = nn.ModuleList(nn.Conv1d(embed_dim, filters, k) for k in filter_widths)
        self.fc = nn.Linear(filters * len(filter_widths), num_classes)

    def forward(self, tokens):
        x = self.embedding(tokens).transpose(1, 2)
        return self.fc(torch.cat([F.relu(c(x)).amax(2) for c in self.convs], 1))


class MlpGenerator(nn.Module):
    """dl_gan's MLP generator: [z, embed(y)] -> (Linear, ReLU) x layers -> Linear (-> tanh)."""

    def __init__(self, latent_dim, hidden, layers, data_dim, num_classes=None, tanh=False):
        super().__init__()
        n = num_classes or 0
        self.hidden = nn.ModuleList(nn.Linear(latent_dim + n if i == 0 else hidden, hidden) for i in range(layers))
        self.out = nn.Linear(hidden, data_dim)
        self.embed = nn.Embedding(n, n) if num_classes else None
        self.tanh = tanh

    def forward(self, z, labels=None):
        if self.embed is not None:
            z = torch.cat([z, self.embed(labels)], 1)
        for layer in self.hidden:
            z = F.relu(layer(z))
        z = self.out(z)
        return torch.tanh(z) if self.tanh else z


class SpecGenerator(nn.Module):
    """dl_gan's SpecGAN generator: Linear to the smallest maps, then 4x4 stride-2 up-sampling steps."""

    def __init__(self, latent_dim, bins, frames, channels, num_classes=None):
        super().__init__()
        n = num_classes or 0
        f = 2 ** len(channels)
        self.shape = (channels[0], bins // f, frames // f)
        self.fc = nn.Linear(latent_dim + n, channels[0] * (bins // f) * (frames // f))
        self.norms = nn.ModuleList(nn.BatchNorm2d(c) for c in channels)
        outs = channels[1:] + [1]
        self.ups = nn.ModuleList(nn.ConvTranspose2d(i, o, 4, 2, 1) for i, o in zip(channels, outs))
        self.embed = nn.Embedding(n, n) if num_classes else None

    def forward(self, z, labels=None):
        if self.embed is not None:
            z = torch.cat([z, self.embed(labels)], 1)
        x = F.relu(self.norms[0](self.fc(z).view(z.shape[0], *self.shape)))
        for i, up in enumerate(self.ups):
            x = up(x)
            if i + 1 < len(self.ups):
                x = F.relu(self.norms[i + 1](x))
        return torch.tanh(x).flatten(1)


class Vit(nn.Module):
    """dl_transformer's ViT: patch convolution, [CLS] + learned positions, pre-norm GELU encoder."""

    def __init__(self, channels, image_size, patch_size, num_classes, d_model, layers, heads, d_ff):
        super().__init__()
        patches = (image_size // patch_size) ** 2
        self.patch = nn.Conv2d(channels, d_model, patch_size, patch_size)
        self.cls = nn.Parameter(torch.zeros(1, 1, d_model))
        self.positions = nn.Parameter(torch.zeros(1, patches + 1, d_model))
        layer = nn.TransformerEncoderLayer(d_model, heads, d_ff, dropout=0.0, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, num_classes)

    def forward(self, images):
        x = self.patch(images).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1) + self.positions
        return self.head(self.norm(self.encoder(x))[:, 0])


def sinusoidal(length, d):
    """Vaswani et al.'s table with sin on even and cos on odd features (dl_transformer::position)."""
    pos = torch.arange(length, dtype=torch.float64)[:, None]
    i = (torch.arange(d) // 2).to(torch.float64)
    angle = pos / 10000 ** (2 * i / d)
    return torch.where(torch.arange(d) % 2 == 0, angle.sin(), angle.cos()).float()


class Seq2Seq(nn.Module):
    """dl_transformer's encoder-decoder: embeddings x sqrt(d) + sinusoidal positions, nn.Transformer's
    stacks (final norms in pre-norm stacks only), a linear output."""

    def __init__(self, src_vocab, tgt_vocab, d_model, n_heads, d_ff, encoder_layers, decoder_layers, norm_first,
                 activation):
        super().__init__()
        self.d = d_model
        self.src_embed = nn.Embedding(src_vocab, d_model)
        self.tgt_embed = nn.Embedding(tgt_vocab, d_model)
        kw = dict(dropout=0.0, activation=activation, batch_first=True, norm_first=norm_first)
        self.encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(d_model, n_heads, d_ff, **kw), encoder_layers,
                                             norm=nn.LayerNorm(d_model) if norm_first else None,
                                             enable_nested_tensor=False)
        self.decoder = nn.TransformerDecoder(nn.TransformerDecoderLayer(d_model, n_heads, d_ff, **kw), decoder_layers,
                                             norm=nn.LayerNorm(d_model) if norm_first else None)
        self.output = nn.Linear(d_model, tgt_vocab)

    def embed(self, table, ids):
        return table(ids) * self.d ** 0.5 + sinusoidal(ids.shape[1], self.d)

    def forward(self, src, src_lengths, tgt):
        pad = torch.arange(src.shape[1])[None, :] >= src_lengths[:, None]
        memory = self.encoder(self.embed(self.src_embed, src), src_key_padding_mask=pad)
        causal = nn.Transformer.generate_square_subsequent_mask(tgt.shape[1])
        x = self.decoder(self.embed(self.tgt_embed, tgt), memory, tgt_mask=causal, memory_key_padding_mask=pad)
        return self.output(x)


class LstmSeq2Seq(nn.Module):
    """dl_lstm's attention encoder-decoder: a bidirectional nn.LSTM encoder (packed by length), a tanh
    bridge from its top layer's final states to every decoder layer, an nn.LSTM decoder stepped one token
    at a time on [embedding; previous attentional vector], additive or multiplicative attention,
    tanh(combine([context; state])) as the attentional vector, a linear output."""

    def __init__(self, src_vocab, tgt_vocab, embed, tgt_embed, enc_hidden, enc_layers, dec_hidden, dec_layers,
                 additive, attention_dim):
        super().__init__()
        he, k = 2 * enc_hidden, attention_dim if additive else dec_hidden
        self.src_embedding = nn.Embedding(src_vocab, embed)
        self.tgt_embedding = nn.Embedding(tgt_vocab, tgt_embed)
        self.encoder = nn.LSTM(embed, enc_hidden, enc_layers, batch_first=True, bidirectional=True)
        self.decoder = nn.LSTM(tgt_embed + dec_hidden, dec_hidden, dec_layers, batch_first=True)
        self.bridge = nn.Linear(he, dec_hidden)
        self.attn_key = nn.Linear(he, k, bias=additive)
        self.attn_query = nn.Linear(dec_hidden, k, bias=False) if additive else None
        self.attn_v = nn.Linear(k, 1, bias=False) if additive else None
        self.combine = nn.Linear(he + dec_hidden, dec_hidden)
        self.output = nn.Linear(dec_hidden, tgt_vocab)
        self.dec_layers = dec_layers

    def forward(self, src, src_lengths, tgt):
        packed = nn.utils.rnn.pack_padded_sequence(self.src_embedding(src), src_lengths, batch_first=True,
                                                   enforce_sorted=False)
        out, (h_n, _) = self.encoder(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])
        keys = self.attn_key(out)
        mask = (torch.arange(src.shape[1])[None, :] >= src_lengths[:, None]).float() * -1e9
        h = torch.tanh(self.bridge(torch.cat([h_n[-2], h_n[-1]], 1)))[None].repeat(self.dec_layers, 1, 1)
        state = (h, torch.zeros_like(h))
        feed = torch.zeros(src.shape[0], h.shape[2])
        logits = []
        for t in range(tgt.shape[1]):
            x = torch.cat([self.tgt_embedding(tgt[:, t]), feed], 1)[:, None]
            y, state = self.decoder(x, state)
            q = y[:, 0]
            if self.attn_v is not None:
                scores = self.attn_v(torch.tanh(keys + self.attn_query(q)[:, None])).squeeze(2)
            else:
                scores = (keys @ q[:, :, None]).squeeze(2)
            attn = F.softmax(scores + mask, 1)
            feed = torch.tanh(self.combine(torch.cat([(attn[:, None] @ out).squeeze(1), q], 1)))
            logits.append(self.output(feed))
        return torch.stack(logits, 1)


MODULES = {"dcgan_generator": DcGenerator, "dl_resnet": ResNet, "dl_vgg": Vgg, "dl_textcnn": TextCnn,
           "dl_mlp_generator": MlpGenerator, "dl_spec_generator": SpecGenerator, "dl_vit": Vit, "dl_seq2seq": Seq2Seq,
           "dl_lstm_seq2seq": LstmSeq2Seq}
GENERATORS = ("dcgan_generator", "dl_mlp_generator", "dl_spec_generator")


@torch.no_grad()
def check(json_path):
    fx = json.load(open(json_path))
    tensors = load_file(json_path[:-len(".json")] + ".safetensors")
    kind, config = fx["module"], fx["config"]
    if kind in MODULES:
        module = MODULES[kind](**config)
    else:
        module = make_fixtures.build(kind, config)
    params = {k[len("param."):]: v for k, v in tensors.items() if k.startswith("param.")}
    module.load_state_dict(params, strict=True)
    module.eval()
    x = {name: tensors[name] for name in fx["inputs"]}
    if kind in GENERATORS:
        got = {"output": module(x["z"], x.get("labels"))}
    elif kind in MODULES:
        got = {"output": module(*x.values())}
    else:
        got = make_fixtures.forward(kind, module, config, x)
    diff = max(float((got[n] - tensors[n]).abs().max()) for n in fx["outputs"])
    ok = diff <= fx["tolerance"]
    print(f"{os.path.basename(json_path)}: {kind}, {len(params)} tensors, max |diff| {diff:.3g} "
          f"(tolerance {fx['tolerance']:g}) {'ok' if ok else 'FAILED'}")
    return ok


def main():
    paths = sorted(os.path.join(d, f) for d in sys.argv[1:] for f in os.listdir(d) if f.endswith(".json"))
    results = [check(p) for p in paths]
    sys.exit(0 if results and all(results) else 1)


if __name__ == "__main__":
    main()
