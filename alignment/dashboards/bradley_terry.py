"""Bradley-Terry strengths for the leaderboards, with percentile bootstrap intervals, in memory that
grows with the games played, never with competitors squared times draws.

Two solvers give the same estimate: the dense one (`bradley_terry`) holds a K x K Hessian per problem
and solves it exactly, right for a few dozen competitors; the edge-list one (`bradley_terry_sparse`)
solves Newton's steps by conjugate gradients touching only the pairs of competitors that met, for
thousands of them. The bootstrap resamples each table's games and fits its draws a chunk at a time
under a fixed memory budget. A board of thousands of competitors takes normal-approximation intervals
instead (`leaderboard_normal`: one fit and the inverse of its information matrix), which cost one fit
where the bootstrap costs one per draw. No Django: arrays in, arrays out.
"""

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

DENSE_MAX = 64  # competitors up to which a table's draws are fitted with the exact dense solver
MEMORY_BUDGET = 64 * 2**20  # bytes of working arrays for one chunk of bootstrap draws
INVERSE_DENSE_MAX = 4000  # competitors up to which the normal intervals invert the information matrix whole


def bradley_terry(wins: np.ndarray, *, prior: float = 0.5, iterations: int = 50, tol: float = 1e-10) -> np.ndarray:
    """Bradley-Terry log-strengths from a win matrix (wins[..., i, j] = times i beat j, ties counted half
    to each), centred to mean 0, so that P(i beats j) = sigmoid(s_i - s_j).

    `prior` adds that many virtual wins and losses against a reference of strength 0: it keeps a
    competitor that never lost (or never won) finite, pulls thin evidence toward the middle and makes
    the log-likelihood strictly concave, so Newton's method converges in a handful of steps (prior=0 is
    the plain maximum-likelihood fit, which needs every competitor to have won and lost). Every
    leading axis (groups, bootstrap draws) is fitted at once with batched solves.
    """
    scores = _newton(np.asarray(wins, dtype=float), prior, iterations, tol)
    return scores - scores.mean(axis=-1, keepdims=True)


def bradley_terry_covariance(wins: np.ndarray, *, prior: float = 0.5, iterations: int = 50,
                             tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """The fit of bradley_terry and the Laplace covariance of the log-strengths, (-Hessian)^-1 at the
    maximum (..., K, K): the delta method turns it into an interval for any function of the score
    differences. Needs a prior > 0, which makes the Hessian invertible even for a competitor that never
    played (its variance is then the prior's alone, which is large, as it should be)."""
    if prior <= 0:
        raise ValueError("the covariance needs a prior > 0")
    wins = np.asarray(wins, dtype=float)
    scores = _newton(wins, prior, iterations, tol)
    _, hessian = _gradient_hessian(wins, scores, prior)
    covariance = np.linalg.inv(-hessian)
    return scores - scores.mean(axis=-1, keepdims=True), covariance


def _newton(wins: np.ndarray, prior: float, iterations: int, tol: float) -> np.ndarray:
    """Uncentred maximum (a posteriori, with the prior) of the log-likelihood, by Newton's method."""
    scores = np.zeros(wins.shape[:-1])
    for _ in range(iterations):
        gradient, hessian = _gradient_hessian(wins, scores, prior)
        if prior == 0:
            # Without the reference, strengths are identified only up to a shift; pinning the direction of
            # all-ones (which the gradient never has a component along) makes the system solvable.
            hessian = hessian - 1.0
        step = np.linalg.solve(hessian, gradient[..., None])[..., 0]
        scores = scores - step
        if np.max(np.abs(step), initial=0.0) < tol:
            break
    return scores


def _gradient_hessian(wins: np.ndarray, scores: np.ndarray, prior: float) -> tuple[np.ndarray, np.ndarray]:
    games = wins + np.swapaxes(wins, -1, -2)
    won = wins.sum(axis=-1)
    p_win = _sigmoid(scores[..., :, None] - scores[..., None, :])
    p_ref = _sigmoid(scores)
    gradient = won - (games * p_win).sum(axis=-1) + prior * (1 - 2 * p_ref)
    curvature = games * p_win * (1 - p_win)
    hessian = curvature - np.eye(scores.shape[-1]) * (
        curvature.sum(axis=-1) + 2 * prior * p_ref * (1 - p_ref)
    )[..., None]
    return gradient, hessian


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.tanh(x / 2))


class _Edges:
    """Scatter-adds from (problems, edges) values onto (problems, competitors), one bincount each."""

    def __init__(self, first: np.ndarray, second: np.ndarray, problems: int, k: int):
        self.first, self.second, self.shape = first, second, (problems, k)
        offsets = (np.arange(problems, dtype=np.int64) * k)[:, None]
        self.flat_first = (offsets + first[None, :]).ravel()
        self.flat_second = (offsets + second[None, :]).ravel()

    def onto_first(self, values: np.ndarray) -> np.ndarray:
        return np.bincount(self.flat_first, values.ravel(), self.shape[0] * self.shape[1]).reshape(self.shape)

    def onto_second(self, values: np.ndarray) -> np.ndarray:
        return np.bincount(self.flat_second, values.ravel(), self.shape[0] * self.shape[1]).reshape(self.shape)


def bradley_terry_sparse(
    first: np.ndarray, second: np.ndarray, first_won: np.ndarray, second_won: np.ndarray, k: int, *,
    prior: float = 0.5, iterations: int = 50, tol: float = 1e-8, cg_tol: float = 1e-10,
) -> np.ndarray:
    """(problems, k) centred log-strengths, the same estimate as bradley_terry.

    first, second: (E,) the two competitors of each edge (each unordered pair once); first_won,
    second_won: (problems, E) wins of each side on that edge (ties already split half to each side).
    """
    scores = bradley_terry_uncentred(first, second, first_won, second_won, k, prior, iterations, tol, cg_tol)
    return scores - scores.mean(axis=-1, keepdims=True)


def bradley_terry_uncentred(first: np.ndarray, second: np.ndarray, first_won: np.ndarray, second_won: np.ndarray,
                            k: int, prior: float = 0.5, iterations: int = 50, tol: float = 1e-8,
                            cg_tol: float = 1e-10) -> np.ndarray:
    """(problems, k): the edge-list maximum (with the prior) before centring, by Newton's method. With a prior
    its absolute values mean something (strength against the reference 0), which the Hessian's prior term
    and a competitor that never played (at 0) need."""
    edges = _Edges(np.asarray(first, np.int64), np.asarray(second, np.int64), first_won.shape[0], k)
    games = first_won + second_won
    won = edges.onto_first(first_won) + edges.onto_second(second_won)
    scores = np.zeros(edges.shape)
    for _ in range(iterations):
        p_first = _sigmoid(scores[:, edges.first] - scores[:, edges.second])
        p_ref = _sigmoid(scores)
        gradient = won - edges.onto_first(games * p_first) - edges.onto_second(games * (1 - p_first)) \
            + prior * (1 - 2 * p_ref)
        weight = games * p_first * (1 - p_first)
        diagonal = edges.onto_first(weight) + edges.onto_second(weight) + 2 * prior * p_ref * (1 - p_ref)
        step = _conjugate_gradient(edges, weight, diagonal, gradient, cg_tol)
        scores = scores + step
        if np.max(np.abs(step), initial=0.0) < tol:
            break
    return scores


def _conjugate_gradient(edges: _Edges, weight: np.ndarray, diagonal: np.ndarray, rhs: np.ndarray,
                        tol: float, max_steps: int = 500) -> np.ndarray:
    """Solve (L + D) x = rhs per problem, L the Laplacian of the edge weights, D the prior's diagonal
    (L + D is the negative Hessian: positive semi-definite, definite with a prior)."""

    def apply(v: np.ndarray) -> np.ndarray:
        return diagonal * v - edges.onto_first(weight * v[:, edges.second]) - edges.onto_second(
            weight * v[:, edges.first])

    # Without a prior a competitor with no games has a zero row; its gradient is zero too, so any
    # preconditioner value leaves it at zero.
    inverse = np.where(diagonal > 0, 1 / np.where(diagonal > 0, diagonal, 1), 1.0)
    x = np.zeros_like(rhs)
    residual = rhs.copy()
    z = inverse * residual
    direction = z.copy()
    rz = (residual * z).sum(axis=1)
    scale = np.maximum(np.abs(rhs).max(axis=1), 1e-300)
    for _ in range(max_steps):
        if np.all(np.abs(residual).max(axis=1) <= tol * np.maximum(scale, 1.0)):
            break
        applied = apply(direction)
        curvature = (direction * applied).sum(axis=1)
        alpha = np.where(curvature > 0, rz / np.where(curvature > 0, curvature, 1), 0.0)
        x += alpha[:, None] * direction
        residual -= alpha[:, None] * applied
        z = inverse * residual
        rz_next = (residual * z).sum(axis=1)
        beta = np.where(rz > 0, rz_next / np.where(rz > 0, rz, 1), 0.0)
        direction = z + beta[:, None] * direction
        rz = rz_next
    return x


@dataclass
class Leaderboard:
    """Per table (leading axis) and competitor: centred log-strength, its bootstrap interval and the
    number of games behind it. NaN for a competitor with no games in that table."""

    scores: np.ndarray
    low: np.ndarray
    high: np.ndarray
    games: np.ndarray


@dataclass
class Matches:
    """One table's games as an edge list, each unordered pair of competitors once: decisive wins of
    either side and ties (a tie counts half to each side)."""

    first: np.ndarray
    second: np.ndarray
    first_won: np.ndarray
    second_won: np.ndarray
    tied: np.ndarray

    @classmethod
    def from_dense(cls, wins: np.ndarray, ties: np.ndarray) -> "Matches":
        both = ties + ties.T
        first, second = np.nonzero(np.triu(wins + wins.T + both, k=1))
        return cls(first, second, wins[first, second], wins[second, first], both[first, second])

    def games(self, k: int) -> np.ndarray:
        played = self.first_won + self.second_won + self.tied
        return np.bincount(self.first, played, k) + np.bincount(self.second, played, k)


def bradley_terry_bootstrap(
    wins: np.ndarray, ties: np.ndarray | None = None, *, draws: int = 200, seed: int = 0, level: float = 0.95,
    prior: float = 0.5,
) -> Leaderboard:
    """Bradley-Terry scores with percentile bootstrap intervals for several tables at once (one per
    group): wins[t, i, j] = decisive judgments where i beat j; ties[t, i, j] + ties[t, j, i] = ties between
    i and j, each counted half to both sides. Dense tables in; see leaderboard_bootstrap for edge lists."""
    wins = np.asarray(wins, dtype=float)
    ties = np.zeros_like(wins) if ties is None else np.asarray(ties, dtype=float)
    tables = [Matches.from_dense(w, t) for w, t in zip(wins, ties, strict=True)]
    return leaderboard_bootstrap(tables, wins.shape[-1], draws=draws, seed=seed, level=level, prior=prior)


def leaderboard_bootstrap(
    tables: list[Matches], k: int, *, draws: int = 200, seed: int = 0, level: float = 0.95, prior: float = 0.5,
) -> Leaderboard:
    """Per table: the fit on its games and a percentile interval over `draws` refits on resampled games.

    The judgments are resampled as one multinomial draw over the table's non-empty cells (who beat whom,
    who tied with whom), which is resampling judgments with replacement without touching them one by
    one. Each table is fitted on the competitors it has seen only, so an absent one neither shifts the
    others nor costs anything; draws go a chunk at a time, so memory stays within MEMORY_BUDGET
    whatever the number of competitors.
    """
    rng = np.random.default_rng(seed)
    board = _empty_board(tables, k)
    for t, matches, seen, local in _played_tables(tables, board.games):
        fitted = _table_bootstrap(matches, local, seen.size, draws, rng, prior)
        board.scores[t, seen] = fitted[0]
        if draws:
            tail = (1 - level) / 2 * 100
            board.low[t, seen], board.high[t, seen] = np.percentile(fitted[1:], [tail, 100 - tail], axis=0)
        else:
            board.low[t, seen] = board.high[t, seen] = fitted[0]
    return board


def _empty_board(tables: list[Matches], k: int) -> Leaderboard:
    games = np.array([matches.games(k) for matches in tables]).reshape(len(tables), k)
    return Leaderboard(*(np.full((len(tables), k), np.nan) for _ in range(3)), games=games)


def _played_tables(tables: list[Matches], games: np.ndarray):
    """(t, matches, seen, local) per table with games: its competitors that played and their local index."""
    for t, matches in enumerate(tables):
        seen = np.flatnonzero(games[t] > 0)
        if seen.size == 0:
            continue
        local = np.full(games.shape[1], -1, dtype=np.int64)
        local[seen] = np.arange(seen.size)
        yield t, matches, seen, local


def leaderboard_normal(tables: list[Matches], k: int, *, level: float = 0.95, prior: float = 0.5) -> Leaderboard:
    """Per table: the fit on its games and a normal-approximation (Wald) interval, score +- z x its
    standard error, from the inverse of the information matrix at the fit (the prior included, which keeps
    it invertible), for the centred scores the board shows.

    For boards of thousands of competitors, where each bootstrap draw is a fit of its own: with many games
    per competitor the log-likelihood is close to quadratic and the two intervals agree (tested); with few
    games the bootstrap says more, which is why small boards keep it.
    """
    z = NormalDist().inv_cdf(0.5 + level / 2)
    board = _empty_board(tables, k)
    for t, matches, seen, local in _played_tables(tables, board.games):
        first, second = local[matches.first], local[matches.second]
        first_won, second_won = matches.first_won + 0.5 * matches.tied, matches.second_won + 0.5 * matches.tied
        fitted = bradley_terry_uncentred(first, second, first_won[None], second_won[None], seen.size, prior)[0]
        variance = _centred_variance(first, second, first_won + second_won, fitted, prior)
        centred = fitted - fitted.mean()
        spread = z * np.sqrt(np.maximum(variance, 0.0))
        board.scores[t, seen], board.low[t, seen], board.high[t, seen] = centred, centred - spread, centred + spread
    return board


def _centred_variance(first: np.ndarray, second: np.ndarray, games: np.ndarray, scores: np.ndarray,
                      prior: float) -> np.ndarray:
    """Var(s_i - mean(s)) under the Laplace approximation, Sigma = H^-1 with H the negative Hessian at the
    (uncentred) fit: c_i' Sigma c_i with c_i = e_i - 1/k."""
    k = scores.size
    if k <= INVERSE_DENSE_MAX:
        sigma = np.linalg.inv(_information_matrix(first, second, games, scores, prior))
        row_means = sigma.mean(axis=1)
        return np.diag(sigma) - 2 * row_means + row_means.mean()
    variance = np.empty(k)
    for rows in _row_chunks(k, len(first)):
        centring = np.full((rows.size, k), -1.0 / k)
        centring[np.arange(rows.size), rows] += 1.0
        variance[rows] = (laplace_solve(first, second, games, scores, prior, centring) * centring).sum(axis=1)
    return variance


def laplace_solve(first: np.ndarray, second: np.ndarray, games: np.ndarray, scores: np.ndarray, prior: float,
                  rhs: np.ndarray) -> np.ndarray:
    """Sigma @ each row of rhs (m, k), Sigma = H^-1 the Laplace covariance of the uncentred scores of an edge
    list at its fit: a dense solve up to INVERSE_DENSE_MAX competitors, beyond it conjugate gradients a
    memory-bounded chunk of rows at a time (each solve touches only the edges)."""
    k = scores.size
    if k <= INVERSE_DENSE_MAX:
        return np.linalg.solve(_information_matrix(first, second, games, scores, prior), rhs.T).T
    weight, diagonal = _information(first, second, games, scores, prior)
    out = np.empty_like(rhs, dtype=float)
    for rows in _row_chunks(rhs.shape[0], len(first), k):
        edges = _Edges(first, second, rows.size, k)
        out[rows] = _conjugate_gradient(edges, np.broadcast_to(weight, (rows.size, len(first))),
                                        np.broadcast_to(diagonal, (rows.size, k)), rhs[rows], 1e-12)
    return out


def laplace_quadratic(first: np.ndarray, second: np.ndarray, games: np.ndarray, scores: np.ndarray, prior: float,
                      rows: np.ndarray) -> np.ndarray:
    """(m,): r' Sigma r for each row r of rows (m, k), Sigma as in laplace_solve: the delta method's variances.
    Dense: one Cholesky factor H = L L' and one triangular solve, |L^-1 r|^2 (half the work of a solve)."""
    k = scores.size
    if k > INVERSE_DENSE_MAX:
        return (laplace_solve(first, second, games, scores, prior, rows) * rows).sum(axis=1)
    from scipy.linalg import cholesky, solve_triangular

    factor = cholesky(_information_matrix(first, second, games, scores, prior), lower=True)
    return (solve_triangular(factor, rows.T, lower=True) ** 2).sum(axis=0)


def _information(first: np.ndarray, second: np.ndarray, games: np.ndarray, scores: np.ndarray,
                 prior: float) -> tuple[np.ndarray, np.ndarray]:
    """The negative Hessian as edge weights (its off-diagonal, negated) and its diagonal."""
    k = scores.size
    p_first = _sigmoid(scores[first] - scores[second])
    weight = games * p_first * (1 - p_first)
    p_ref = _sigmoid(scores)
    diagonal = np.bincount(first, weight, k) + np.bincount(second, weight, k) + 2 * prior * p_ref * (1 - p_ref)
    return weight, diagonal


def _information_matrix(first: np.ndarray, second: np.ndarray, games: np.ndarray, scores: np.ndarray,
                        prior: float) -> np.ndarray:
    weight, diagonal = _information(first, second, games, scores, prior)
    information = np.diag(diagonal)
    np.add.at(information, (first, second), -weight)
    np.add.at(information, (second, first), -weight)
    return information


def _row_chunks(rows: int, edges: int, k: int | None = None):
    """Index chunks of `rows` whose conjugate-gradient working arrays stay within MEMORY_BUDGET."""
    chunk = max(1, min(rows, MEMORY_BUDGET // (8 * 16 * max(edges, k or rows))))
    for start in range(0, rows, chunk):
        yield np.arange(start, min(rows, start + chunk))


def _table_bootstrap(matches: Matches, local: np.ndarray, k: int, draws: int, rng: np.random.Generator,
                     prior: float) -> np.ndarray:
    """(1 + draws, k): the fit on the observed games, then one per resample."""
    first, second = local[matches.first], local[matches.second]
    cells = np.concatenate([matches.first_won, matches.second_won, matches.tied])
    kept = np.flatnonzero(cells > 0)  # cells never observed are never drawn: leave them out of the draw
    total = int(round(cells.sum()))
    edges = len(first)
    edge_of, kind_of = kept % edges, kept // edges
    fitted = np.empty((1 + draws, k))
    fitted[0] = _fit(first, second, matches.first_won + 0.5 * matches.tied,
                     matches.second_won + 0.5 * matches.tied, k, prior)[0]
    # Working arrays per draw: about a dozen of (edges,) floats for the edge-list solver, k x k for dense.
    per_draw = 8 * max(16 * edges, 6 * k * k if k <= DENSE_MAX else 0, 1)
    chunk = max(1, min(draws, MEMORY_BUDGET // per_draw))
    probabilities = cells[kept] / cells[kept].sum()
    for start in range(0, draws, chunk):
        size = min(chunk, draws - start)
        sampled = rng.multinomial(total, probabilities, size=size)
        first_won, second_won = np.zeros((size, edges)), np.zeros((size, edges))
        # An edge has at most one cell of each kind, so these fancy-index additions never collide.
        for kind, (to_first, to_second) in enumerate(((1.0, 0.0), (0.0, 1.0), (0.5, 0.5))):
            mine = kind_of == kind
            first_won[:, edge_of[mine]] += to_first * sampled[:, mine]
            second_won[:, edge_of[mine]] += to_second * sampled[:, mine]
        fitted[1 + start : 1 + start + size] = _fit(first, second, first_won, second_won, k, prior)
    return fitted


def _fit(first: np.ndarray, second: np.ndarray, first_won: np.ndarray, second_won: np.ndarray, k: int,
         prior: float) -> np.ndarray:
    first_won, second_won = np.atleast_2d(first_won), np.atleast_2d(second_won)
    if k <= DENSE_MAX:
        wins = np.zeros((first_won.shape[0], k, k))
        wins[:, first, second], wins[:, second, first] = first_won, second_won  # each pair once
        return bradley_terry(wins, prior=prior)
    return bradley_terry_sparse(first, second, first_won, second_won, k, prior=prior)
