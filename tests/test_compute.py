from reasoning import compute, model
from support import TINY


def test_matmul_params_match_the_parameter_tree(tiny_model):
  cfg, _, params = tiny_model
  # Every parameter is in a matmul except the norms' scales and the heads' biases.
  norms = (2 * cfg.n_layers + 1) * cfg.d_model
  assert compute.matmul_params(cfg) == model.count_params(params) - norms - 2


def test_flops_by_hand():
  n = compute.matmul_params(TINY)
  assert compute.forward_flops_per_token(TINY, 10) == 2 * n + 2 * TINY.n_layers * 10 * TINY.d_model
  # A full pass over L tokens: L * 2N + 2 * layers * d * sum_{t<L} t  (= L^2 / 2 in the formula).
  assert compute.forward_flops(TINY, [4]) == 4 * 2 * n + TINY.n_layers * 16 * TINY.d_model
  assert compute.train_flops(TINY, [4, 4]) == 6 * compute.forward_flops(TINY, [4])
  # Generating 3 tokens after a 5-token prompt: prefill 5, then contexts 5, 6, 7.
  expected = compute.forward_flops(TINY, [5]) + sum(
      compute.forward_flops_per_token(TINY, c) for c in (5, 6, 7))
  assert abs(compute.generation_flops(TINY, [5], [3]) - expected) < 1e-6
