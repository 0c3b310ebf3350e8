"""The exact log p(x) of a model with a 2-D latent, by quadrature on a lattice (derivations/exact-likelihood.md).

    p(x) = integral of p(x | z) N(z; 0, I) dz  (Eq. (1))  ~  h^2 sum over the lattice h Z^2 where the integrand lives

The log-likelihood is linear in x (Eq. (X2); for the continuous Bernoulli too, Eq. (L1)): for every image and every
lattice point at once,

    log p(x_n | z_g) + log p(z_g) = x_n . f(z_g) - sum_d A(f_d(z_g)) + log N(z_g; 0, I),   A = softplus (Bernoulli),

one matrix product of the images with the lattice's logits, shared by all images. Points are taken in chunks
(memory bounded whatever the number of images or points); each image's sum is a streaming log-sum-exp with
float64 accumulators.

Two levels (Eq. (X4)). A coarse scan of [-R, R]^2 finds the cells where some image's integrand is within
`hot_nats` of that image's largest value (dilated by one cell); at every other scan point every image's integrand
is below e^-hot_nats of its largest scan value. The fine lattice h Z^2 covers those cells only. The error is measured, not assumed
(Eq. (X5)): the fine points are kept by parity (the even sublattice has spacing 2h) and by region (inside [-r, r]^2
or in the frame beyond), so the same sums give each image's answer at spacing 2h and on the smaller square; their
differences from the reported value are the changes that halving the spacing and widening the range make.

The images go through the two levels in groups whose integrands peak close together (nearby_groups): a group's fine
lattice covers its own images' hot cells, not every image's, which is what narrow posteriors spread over the plane
(the continuous Bernoulli's, derivations/likelihoods.md) need.
"""
import copy
import math
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from nn import StreamingLogSumExp, gaussian_log_density


@dataclass
class ExactLogMarginal:
    """Per image (N,): log p(x); the lattice spacing h it was computed at; the change when the spacing is halved
    (2h -> h) and when the range is widened (r -> R), log p(x) being the refined value in both; and an estimate of the
    mass left off the fine lattice, log(1 + outside / inside), by the scan's rule over the scan points that are not hot
    for that image (those within [-R, R]^2; it is an estimate, not a bound); the half-width R of the square it was
    computed on. points: fine lattice points evaluated; rounds: per round, its square's half-width, spacing, images,
    fine points (in all, and in each of lattice_sums' four sets) and scan points; peak_scans: per square, its images and scan points (scan_peaks' pass): what
    bench/exact.py replays."""
    log_px: np.ndarray
    spacing: np.ndarray
    spacing_change: np.ndarray
    range_change: np.ndarray
    outside: np.ndarray
    limit: np.ndarray
    points: int = 0
    rounds: list = field(default_factory=list)
    peak_scans: list = field(default_factory=list)


@dataclass
class Decoder:
    """What Eq. (X2) needs of a model: its generative network (called for the logits) and its likelihood's
    log-partition A (Eq. (L1))."""
    net: object
    log_partition: object

    def __call__(self, z):
        return self.net(z)


def generative_in(model, dtype):
    """The model's Decoder, with a copy of the generative network whose parameters are in dtype."""
    net = copy.deepcopy(model.generative)
    for layer in net.layers:
        layer.params = {name: value.astype(dtype) for name, value in layer.params.items()}
    return Decoder(net, model.likelihood.log_partition)


def lattice_terms(net, z, dtype):
    """For points z (G, 2): the logits f(z)^T (D, G) and the constant c = -sum_d A(f_d(z)) + log N(z; 0, I)
    (G,), in dtype: the two pieces of Eq. (X2) that do not depend on the image. A is the likelihood's log-partition
    (Eq. (L1)): softplus for the Bernoulli. net: a Decoder."""
    logits = net(z.astype(dtype))
    constant = gaussian_log_density(z, 0.0, np.zeros_like(z)) - net.log_partition(logits).sum(axis=1, dtype=np.float64)
    return logits.T, constant.astype(dtype)


def chunked_terms(net, z, dtype, point_chunk):
    """lattice_terms of z, point_chunk points at a time: yields (columns, logits^T, constant), made as they are
    used, so that memory stays bounded whatever the number of points."""
    for start in range(0, len(z), point_chunk):
        yield (slice(start, start + point_chunk), *lattice_terms(net, z[start:start + point_chunk], dtype))


def log_joint_blocks(terms, x, image_chunk):
    """Yields (rows, columns, block): block = log p(x_n | z_g) + log p(z_g) (Eq. (X2)) for the images `rows` (a
    slice) and the points `columns` (a slice); terms: chunked_terms of the points, or a generator of them."""
    for columns, logits_t, constant in terms:
        for row in range(0, x.shape[0], image_chunk):
            rows = slice(row, row + image_chunk)
            block = x[rows] @ logits_t
            block += constant
            yield rows, columns, block


def combine(accumulators):
    """log sum exp of several StreamingLogSumExp results, per row."""
    return np.logaddexp.reduce(np.stack([a.value() for a in accumulators]), axis=0)


def square_lattice(spacing, limit):
    """Integer indices (M, 2) of the points spacing * (i, j) within [-limit, limit]^2."""
    n = int(math.floor(limit / spacing + 1e-9))
    index = np.arange(-n, n + 1)
    return np.stack([a.ravel() for a in np.meshgrid(index, index, indexing="ij")], axis=1)


def hot_cells(scan, x, scan_spacing, hot_nats, image_chunk, also_hot=None):
    """Indices (M, 2) of the scan cells where some image's integrand is within hot_nats of its largest value on
    the scan, and the cells also_hot (integer indices (K, 2), or None), all dilated by one cell; and per image the log
    of the scan's mass elsewhere (its 'cold' points), by the rule of Eq. (X3) at the scan's spacing.
    scan: (integer indices (G, 2) of the scan's points, their chunked_terms)."""
    index, terms = scan
    peak = np.full(x.shape[0], -np.inf)
    for rows, _, block in log_joint_blocks(terms, x, image_chunk):
        peak[rows] = np.maximum(peak[rows], block.max(axis=1))
    hot, cold = np.zeros(len(index), bool), StreamingLogSumExp(x.shape[0])
    for rows, columns, block in log_joint_blocks(terms, x, image_chunk):
        is_hot = block > (peak[rows] - hot_nats)[:, None].astype(block.dtype)
        hot[columns] |= is_hot.any(axis=0)
        block[is_hot] = -np.inf
        cold.add(block, rows)
    offset = index.max() + 1                        # one cell of margin on every side, for the dilation
    grid = np.zeros((2 * offset + 1, 2 * offset + 1), bool)
    grid[tuple((index[hot] + offset).T)] = True
    if also_hot is not None:
        grid[tuple((np.clip(also_hot, -offset + 1, offset - 1) + offset).T)] = True
    grid = ndimage.binary_dilation(grid, structure=np.ones((3, 3), bool))
    return np.argwhere(grid) - offset, 2 * math.log(scan_spacing) + cold.value()


def fine_points(cells, scan_spacing, spacing, inner_limit):
    """The fine lattice spacing * Z^2 inside the given scan cells ([c - s/2, c + s/2)^2 about each centre c), as four
    point sets keyed (even, inner): even when both fine indices are even (the sublattice of spacing 2h), inner
    inside [-inner_limit, inner_limit]^2: the sets of Eq. (X5)."""
    per_cell = int(round(scan_spacing / spacing))
    if per_cell % 2 or abs(per_cell * spacing - scan_spacing) > 1e-9 * scan_spacing:
        raise ValueError(f"the scan spacing {scan_spacing} must be an even multiple of the spacing {spacing}")
    offsets = np.arange(-per_cell // 2, per_cell // 2)
    local = np.stack([a.ravel() for a in np.meshgrid(offsets, offsets, indexing="ij")], axis=1)
    index = (cells[:, None, :] * per_cell + local[None, :, :]).reshape(-1, 2)
    z = spacing * index.astype(np.float64)
    even = np.all(index % 2 == 0, axis=1)
    inner = np.max(np.abs(z), axis=1) <= inner_limit + 1e-12
    return {(e, i): z[(even == e) & (inner == i)] for e in (True, False) for i in (True, False)}


def lattice_sums(net, x, cells, scan_spacing, spacing, inner_limit, dtype, point_chunk, image_chunk):
    """On the fine lattice of the given cells, per image: log p(x) by Eq. (X3) at the spacing, at twice it (the even
    sublattice), and on the inner square alone (the sets of Eq. (X5)); and the number of points in each set."""
    sets = fine_points(cells, scan_spacing, spacing, inner_limit)
    sums = {key: StreamingLogSumExp(x.shape[0]) for key in sets}
    for key, z in sets.items():
        for rows, _, block in log_joint_blocks(chunked_terms(net, z, dtype, point_chunk), x, image_chunk):
            sums[key].add(block, rows)
    log_px = 2 * math.log(spacing) + combine(sums.values())
    coarse = 2 * math.log(2 * spacing) + combine([sums[(True, True)], sums[(True, False)]])
    narrow = 2 * math.log(spacing) + combine([sums[(True, True)], sums[(False, True)]])
    return log_px, coarse, narrow, [len(z) for z in sets.values()]


def scan_peaks(scan, x, image_chunk):
    """Per image, the position in the scan's points of its largest integrand on the scan. scan: as hot_cells'."""
    _, terms = scan
    peak, where = np.full(x.shape[0], -np.inf), np.zeros(x.shape[0], int)
    for rows, columns, block in log_joint_blocks(terms, x, image_chunk):
        best = block.argmax(axis=1)
        value = block[np.arange(len(best)), best]
        better = value > peak[rows]
        peak[rows] = np.where(better, value, peak[rows])
        where[rows] = np.where(better, columns.start + best, where[rows])
    return where


def nearby_groups(peak_cell, group_size, block=8):
    """The images in groups of at most group_size whose integrands peak close together: ordered by the
    block x block square of scan cells that holds each peak (and by the peak within it), then cut in order. The rule
    of Eq. (X3) then runs on each group, over the fine lattice of its own images' cells, not of every image's.
    peak_cell: (N, 2) integer indices of the scan cells where each image peaks."""
    blocks = np.floor_divide(peak_cell, block)
    order = np.lexsort((peak_cell[:, 1], peak_cell[:, 0], blocks[:, 1], blocks[:, 0]))
    return [order[start:start + group_size] for start in range(0, len(order), group_size)]


def exact_log_marginal(model, x, tolerance=1e-3, scan_spacing=0.08, limit=8.0, inner_limit=7.0, hot_nats=40.0,
                       halvings=5, widenings=3, dtype=np.float32, point_chunk=2048, image_chunk=4096, group_size=1000,
                       look_at=None, done=None):
    """log p(x) of Eq. (X1) for every row of x, a model with J = 2: the lattice rule of Eq. (X3) in two levels,
    with the error of Eq. (X5) measured per image.

    The range grows where it must: the images whose answer changed by more than tolerance nats between the inner
    square [-inner_limit, inner_limit]^2 and the whole one are computed again on a square 4 wider each way, whose inner
    square is the last whole one, at most `widenings` times (codes far out, where the prior alone does not hold a
    posterior in: the continuous Bernoulli's). On each square, lattice_on_square. look_at: (N, 2) points, one per
    image (q's means), whose scan cells are hot for it whatever the scan saw there, or None.
    x: (N, D) in [0, 1] -> ExactLogMarginal with (N,) float64 arrays. dtype: the matrix product's precision.
    """
    if model.latent_dim != 2:
        raise ValueError(f"the exact log p(x) is computed for a 2-D latent only; this model's has {model.latent_dim}")
    net, x = generative_in(model, dtype), np.asarray(x, dtype)
    result = ExactLogMarginal(*(np.full(x.shape[0], np.nan) for _ in range(6)))
    square = {"tolerance": tolerance, "scan_spacing": scan_spacing, "hot_nats": hot_nats, "halvings": halvings,
              "dtype": dtype, "point_chunk": point_chunk, "image_chunk": image_chunk, "group_size": group_size}
    image_ids = np.arange(x.shape[0])
    for widening in range(widenings + 1):        # done(images): told as the first square finishes each group
        lattice_on_square(result, image_ids, net, x, look_at, limit, inner_limit, **square,
                          done=done if widening == 0 else None)
        image_ids = image_ids[np.abs(result.range_change[image_ids]) > tolerance]
        if image_ids.size == 0:
            break
        inner_limit, limit = limit, limit + 4
    return result


def lattice_on_square(result, image_ids, net, x, look_at, limit, inner_limit, tolerance, scan_spacing, hot_nats,
                      halvings, dtype, point_chunk, image_chunk, group_size, done=None):
    """exact_log_marginal's rule over [-limit, limit]^2 for the images x[image_ids], written into result there.

    The images are taken in groups of at most group_size whose integrands peak close together on the scan
    (nearby_groups). Within a group the fine spacing starts at half the scan's and is halved, for the images whose
    answer still changed by more than tolerance nats when it was last halved, at most `halvings` times; each round
    scans again for those images alone, so that a narrow posterior costs a fine lattice over its own cells only. An
    image whose answer changed by more than tolerance when the range was widened is not refined here."""
    index = square_lattice(scan_spacing, limit)
    # the scan's terms are kept: (2 limit / scan_spacing + 1)^2 points, whatever N; every round scans again
    scan = index, list(chunked_terms(net, scan_spacing * index.astype(np.float64), dtype, point_chunk))
    result.peak_scans.append({"images": len(image_ids), "scan_points": len(index)})
    for group in nearby_groups(index[scan_peaks(scan, x[image_ids], image_chunk)], group_size):
        ids, spacing = image_ids[group], scan_spacing / 2
        for _ in range(halvings + 1):
            images = x[ids]
            looked_at = None if look_at is None else np.rint(look_at[ids] / scan_spacing).astype(int)
            cells, cold = hot_cells(scan, images, scan_spacing, hot_nats, image_chunk, also_hot=looked_at)
            log_px, coarse, narrow, set_sizes = lattice_sums(net, images, cells, scan_spacing, spacing, inner_limit,
                                                          dtype, point_chunk, image_chunk)
            result.log_px[ids], result.spacing[ids], result.limit[ids] = log_px, spacing, limit
            result.spacing_change[ids], result.range_change[ids] = log_px - coarse, log_px - narrow
            result.outside[ids] = np.logaddexp(0, cold - log_px)
            result.points += sum(set_sizes)
            result.rounds.append({"limit": limit, "spacing": spacing, "images": len(ids), "points": sum(set_sizes),
                                  "fine_sets": set_sizes, "scan_points": len(index)})
            # an image whose mass reaches the square's edge goes to a wider square instead (exact_log_marginal)
            ids = ids[(np.abs(log_px - coarse) > tolerance) & (np.abs(log_px - narrow) <= tolerance)]
            if ids.size == 0:
                break
            spacing /= 2
        if done:
            done(len(group))
