"The word law (chapter 8b) refuses bad input with a message that says what to fix."

import pytest, torch
from ladd_nb.words import WordLaw, word_counts, encode_words, perfect_mdlm_sample, words_scores, WORDS_VOCAB

TINY = dict(n_words=3, min_len=2, max_len=2, texts=["ab ab ac bc"])


def test_too_many_words_asked():
    with pytest.raises(
        ValueError, match=r"only 3 distinct lowercase words of 2-2 letters; ask for n_words <= 3"
    ):
        WordLaw(4, 2, 2, texts=["ab ab ac bc"])
    with pytest.raises(ValueError, match="n_words must be an integer >= 1"):
        word_counts(0)


def test_bad_lengths_and_texts():
    with pytest.raises(ValueError, match="max_len must be >= min_len"):
        word_counts(3, min_len=5, max_len=4)
    with pytest.raises(TypeError, match=r"a list of documents, not one string: pass \[text\]"):
        word_counts(3, texts="ab ab ac bc")


def test_unknown_token_ids():
    law = WordLaw(**TINY)
    with pytest.raises(ValueError, match=r"token id 29 outside \[0, 27\) or the mask id 27"):
        law.index(torch.tensor([[0, 29]]))
    with pytest.raises(ValueError, match="token id -1 outside"):
        law.posterior_logits(torch.tensor([[-1, WORDS_VOCAB]]))
    with pytest.raises(TypeError, match="integer token ids"):
        law.decode(torch.zeros(1, 2))


def test_wrong_shapes():
    law = WordLaw(**TINY)
    with pytest.raises(ValueError, match=r"x must have shape \[n, 2\] \(L = max_len\), got \(1, 3\)"):
        law.nll_bits(torch.zeros(1, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="x_t must have 2 dimensions"):
        law.posterior_logits(torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="x must have 2 dimensions"):
        words_scores(torch.zeros(2, dtype=torch.long), law)


def test_unencodable_words():
    with pytest.raises(ValueError, match=r"cannot encode 'Ab': use at most 3 characters of a-z"):
        encode_words(["Ab"], 3)
    with pytest.raises(ValueError, match="cannot encode 'abcd'"):
        encode_words(["abcd"], 3)


def test_no_consistent_word_and_bad_steps():
    law = WordLaw(**TINY)
    with pytest.raises(
        ValueError, match=r"no word of the table agrees with the visible letters of row 1 \('c_'\)"
    ):
        law.posterior_logits(law.encode(["a_", "c_"]))
    with pytest.raises(ValueError, match="K must be an integer >= 1"):
        perfect_mdlm_sample(4, 0, law)
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        law.oracle_ladd_sample(4, 0)
