"Bad input gets a clear error that names the problem and how to fix it."

import pytest, torch
from ladd_nb.core import sample_categorical, check_tokens, check_steps
from ladd_nb.schedules import get_mask_schedule, get_vp_schedule, time_grid
from ladd_nb.masked import MaskedProcess, TableDenoiser, sample_masked, masked_losses, MDLM, exact_sample_law
from ladd_nb.toy2d import density_table, ToyDenoiser
from ladd_nb.masked import two_token_law

P = density_table("ring", 8)
proc = MaskedProcess(8)
oracle = TableDenoiser(P, proc)


def test_token_ids_out_of_range():
    with pytest.raises(ValueError, match=r"token id 9 outside \[0, 8\)"):
        proc.q_sample(torch.tensor([[0, 9]]), torch.tensor([0.5]))
    with pytest.raises(ValueError, match="token id -1 outside"):
        oracle(torch.tensor([[-1, 8]]))
    with pytest.raises(ValueError, match=r"token id 8 outside \[0, 8\)"):  # the mask id is not a clean token
        masked_losses(oracle, proc, torch.tensor([[8, 1]]))


def test_mask_id_inside_vocabulary():
    with pytest.raises(ValueError, match="mask id 3 lies inside the vocabulary"):
        MaskedProcess(8, mask_id=3)
    with pytest.raises(ValueError, match="inside the vocabulary"):
        check_tokens(torch.tensor([1]), 8, mask_id=0)


@pytest.mark.parametrize("steps", [0, -3, 1.5, "4", True])
def test_steps_must_be_positive_int(steps):
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        sample_masked(oracle, proc, n=2, length=2, steps=steps)
    with pytest.raises(ValueError, match="integer >= 1"):
        two_token_law(oracle, proc, steps)


def test_wrong_shapes_and_dtypes():
    with pytest.raises(TypeError, match="integer token ids"):
        proc.q_sample(torch.zeros(2, 2), torch.tensor([0.5, 0.5]))
    with pytest.raises(ValueError, match="2 dimensions"):
        proc.q_sample(torch.zeros(4, dtype=torch.long), torch.tensor([0.5]))
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        proc.q_sample(torch.zeros(2, 2, dtype=torch.long), torch.tensor(0.5))
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        proc.q_sample(torch.zeros(1, 2, dtype=torch.long), torch.tensor([1.5]))
    with pytest.raises(ValueError, match=r"logits of shape \(3, 2, 8\)"):
        sample_masked(lambda x, t: torch.zeros(3, 2, 5), proc, n=3, length=2, steps=1)
    model = MDLM(ToyDenoiser(8), vocab_size=8, seq_len=2)
    with pytest.raises(ValueError, match=r"shape \[B, 2\]"):
        model.loss(torch.zeros(4, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="P must have shape"):
        TableDenoiser(torch.ones(4, 4) / 16, proc)
    with pytest.raises(TypeError, match="floating-point"):
        sample_categorical(torch.tensor([1, 2]))


def test_unknown_names():
    with pytest.raises(ValueError, match="unknown density 'spiral'; choose one of"):
        density_table("spiral")
    with pytest.raises(ValueError, match="unknown masking schedule"):
        get_mask_schedule("exp")
    with pytest.raises(ValueError, match="unknown VP schedule"):
        get_vp_schedule("exp")
    with pytest.raises(ValueError, match="unknown time grid"):
        time_grid(4, "geometric")
    with pytest.raises(ValueError, match="loss_type must be"):
        MDLM(ToyDenoiser(8), vocab_size=8, seq_len=2, loss_type="mse")


def test_bad_sampling_options():
    with pytest.raises(ValueError, match="temperature must be > 0"):
        sample_masked(oracle, proc, n=2, length=2, steps=2, temperature=0)
    with pytest.raises(ValueError, match="'sample' or 'greedy'"):
        sample_masked(oracle, proc, n=2, length=2, steps=2, last="top")
    with pytest.raises(ValueError, match="too many for the exact law"):
        exact_sample_law(oracle, MaskedProcess(200), length=2, steps=1)


def test_bad_probabilities():
    with pytest.raises(ValueError, match="NaN"):
        sample_categorical(torch.tensor([0.5, float("nan")]))
    with pytest.raises(ValueError, match="negative"):
        sample_categorical(torch.tensor([0.5, -0.5]))
    with pytest.raises(ValueError, match="n= is for 1-D"):
        sample_categorical(torch.ones(2, 3), n=5)


def test_coladd_bad_options():
    from ladd_nb.coladd import CoLADD, ToyEncoder, ToyJointDenoiser, ToyLatentDenoiser
    from ladd_nb.gaussian import GaussianProcess

    enc, net, lat = ToyEncoder(8), ToyJointDenoiser(8), ToyLatentDenoiser()
    with pytest.raises(ValueError, match="'sequential' or 'joint'"):
        CoLADD(enc, net, lat, 8, 2, 1, 4, schedule="both")
    with pytest.raises(ValueError, match="needs a latent_net"):
        CoLADD(enc, net, None, 8, 2, 1, 4, schedule="sequential")
    with pytest.raises(ValueError, match="loss_x must be"):
        CoLADD(enc, net, lat, 8, 2, 1, 4, loss_x="mse")
    with pytest.raises(ValueError, match="prediction must be 'y0' or 'eps'"):
        CoLADD(enc, net, lat, 8, 2, 1, 4, prediction="v")
    m = CoLADD(enc, net, lat, 8, 2, 1, 4)
    with pytest.raises(ValueError, match=r"token id 9 outside \[0, 8\)"):
        m.loss(torch.tensor([[1, 9]]))
    with pytest.raises(ValueError, match="latent sampler must be"):
        m.sample(2, steps=1, latent_sampler="euler")
    with pytest.raises(ValueError, match="latent sampler must be 'ddim' or 'ancestral', got 'euler'"):
        m.sample(2, steps=1, schedule="joint", latent_sampler="euler")  # not a silent ancestral step
    y = torch.zeros(2, 1, 4)
    with pytest.raises(ValueError, match="latent sampler must be 'ddim' or 'ancestral', got 'DDIM'"):
        GaussianProcess().reverse_step(y, y, 0.5, 0.3, "DDIM")
    with pytest.raises(ValueError, match="latent_steps must be an integer >= 1"):
        m.sample(2, steps=1, latent_steps=0)
    with pytest.raises(ValueError, match="unknown VP schedule"):
        GaussianProcess("exp")


def test_vq_and_diladd_bad_options():
    from ladd_nb.vq import VectorQuantizer
    from ladd_nb.diladd import DiLADD, TableJointDenoiser
    from ladd_nb.coladd import ToyEncoder, ToyJointDenoiser

    with pytest.raises(ValueError, match="n_codes must be an int >= 2"):
        VectorQuantizer(1, 4)
    with pytest.raises(ValueError, match=r"decay must be in \[0, 1\)"):
        VectorQuantizer(8, 4, decay=1.0)
    with pytest.raises(ValueError, match="last dimension of z_e must be 4"):
        VectorQuantizer(8, 4)(torch.randn(3, 5))
    vq = VectorQuantizer(4, 3)
    with pytest.raises(ValueError, match="loss_x and loss_y must be"):
        DiLADD(ToyEncoder(8, d=3), vq, ToyJointDenoiser(8, d=3, out=4), 8, 2, 1, loss_y="mse")
    with pytest.raises(ValueError, match=r"p_enc_mask must be in \[0, 1\)"):
        DiLADD(ToyEncoder(8, d=3), vq, ToyJointDenoiser(8, d=3, out=4), 8, 2, 1, p_enc_mask=1.0)
    m = DiLADD(ToyEncoder(8, d=3), vq, ToyJointDenoiser(8, d=3, out=4), 8, 2, 1)
    with pytest.raises(ValueError, match=r"token id 9 outside \[0, 8\)"):
        m.loss(torch.tensor([[1, 9]]))
    with pytest.raises(ValueError, match="latent_steps must be an integer >= 1"):
        m.sample(2, steps=1, latent_steps=0)
    with pytest.raises(ValueError, match="'sequential' or 'joint'"):
        m.sample(2, steps=1, schedule="fuji")
    with pytest.raises(ValueError, match=r"token id 5 outside \[0, 4\)"):  # code ids: 0..3 and the mask 4
        m.denoise(torch.zeros(1, 2, dtype=torch.long), torch.tensor([[5]]), torch.ones(1), torch.ones(1))
    with pytest.raises(ValueError, match=r"P must have shape \[4, 8, 8\]"):
        TableJointDenoiser(torch.ones(4, 8, 7), MaskedProcess(8), MaskedProcess(4))
