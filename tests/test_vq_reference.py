"Our vector quantiser against the reference library the LADD code wraps (vector-quantize-pytorch)."

import pytest, torch
from ladd_nb.vq import VectorQuantizer

vqp = pytest.importorskip("vector_quantize_pytorch", reason="needs the dev extra: pip install -e '.[dev]'")


@pytest.mark.parametrize("cosine", [False, True])
def test_same_as_vector_quantize_pytorch(cosine, gen):
    n, d, decay, beta = 16, 8, 0.9, 0.25
    ref = vqp.VectorQuantize(
        dim=d,
        codebook_size=n,
        decay=decay,
        commitment_weight=beta,
        kmeans_init=False,
        threshold_ema_dead_code=0,
        rotation_trick=False,
        use_cosine_sim=cosine,
    ).train()
    ours = VectorQuantizer(
        n, d, decay=decay, commitment=beta, cosine=cosine, kmeans_init=False, dead_fraction=0
    ).train()
    cb = ref._codebook.embed[0].detach().clone()
    ours.codebook.copy_(cb)
    ours.embed_sum.copy_(cb)
    for step in range(5):
        x = torch.randn(4, 32, d, generator=gen) + step * 0.1
        q_ref, idx_ref, loss_ref = ref(x)
        out = ours(x)
        assert torch.equal(out.codes, idx_ref), f"step {step}: codes differ"
        torch.testing.assert_close(out.z_q, q_ref, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(out.commit_loss, loss_ref.reshape(()), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(ours.codebook, ref._codebook.embed[0], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(ours.cluster_size, ref._codebook.cluster_size[0], rtol=1e-5, atol=1e-6)
