"""The figures of section 1.6, each written to a PNG. Plotting only: no training, no evaluation."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402

COLOURS = [f"C{i}" for i in range(10)]     # one per run, in matplotlib's default cycle


def tile(images, image_shape, rows, cols, gap=1, background=0.5):
    """(rows * cols, H * W) images -> one array of rows x cols tiles, row-major, gap pixels of background between
    neighbours (so that two digits never touch)."""
    height, width = image_shape
    canvas = np.full((rows * (height + gap) - gap, cols * (width + gap) - gap), background, dtype=np.float64)
    for n, image in enumerate(images[:rows * cols]):
        row, col = divmod(n, cols)
        top, left = row * (height + gap), col * (width + gap)
        canvas[top:top + height, left:left + width] = image.reshape(height, width)
    return canvas


def save_reconstructions(path, originals, reconstructions, image_shape, title, rows=10, cols=10):
    """Originals (left) and their reconstructions (right), rows x cols tiles each, titled."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 5.4))
    for ax, images, name in zip(axes, (originals, reconstructions), ("test images", "reconstructions")):
        ax.imshow(tile(images, image_shape, rows, cols), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(name)
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_lk(path, histories, k):
    """L_k on test (solid) and train (dashed) against epoch, with standard-error bars; histories: {label: history}."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for (label, history), color in zip(histories.items(), COLOURS):
        for key, style, split in (("test_lk", "-", "test"), ("train_lk", "--", "train")):
            points = [(h["epoch"], h[key], h.get(f"{key}_se") or 0.0) for h in history if h[key] is not None]
            if points:
                epochs, values, errors = zip(*points)
                ax.errorbar(epochs, values, yerr=errors, fmt=style, marker="o", color=color, capsize=2,
                            label=f"{label} {split}")
    ax.set_title(f"$\\mathcal{{L}}_{{{k}}}$ against epoch (bars: standard error over images)")
    epoch_axis(ax, [h["epoch"] for history in histories.values() for h in history])
    ax.set_ylabel(f"$\\mathcal{{L}}_{{{k}}}$ (nats per image)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_diagnostics(path, histories, k):
    """The recognition network epoch by epoch (experiments/outputs/diagnostics.py), one colour per run, on the test images
    (solid) and on the model's dreams (dashed), where they were recorded: q's log-variances (median, the 1st-99th
    percentile band, and the extremes dotted), the largest |mean|, the mean KL(q || p(z)), the effective sample size
    of k importance weights over k with the fraction of images one sample dominates (dashed), -log q(z | x) on real
    images (z weighted toward the posterior) beside -log q on dreams (the sleep loss), and the distance from a dream
    to its nearest test image beside that from a test image to its nearest other one (dotted).
    histories: {label: history}."""
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    axes = axes.ravel()
    all_epochs = []
    for (label, history), color in zip(histories.items(), COLOURS):
        records = [h for h in history if "ess" in h]
        epochs = [h["epoch"] for h in records]
        all_epochs += epochs
        column = lambda key: np.array([np.nan if h.get(key) is None else h[key] for h in records], dtype=float)
        dreamed = bool(records) and "dream_log_q" in records[-1]
        axes[0].plot(epochs, column("log_var_median"), color=color, label=label)
        axes[0].fill_between(epochs, column("log_var_p01"), column("log_var_p99"), color=color, alpha=0.25)
        for key in ("log_var_min", "log_var_max"):
            axes[0].plot(epochs, column(key), ":", color=color)
        for ax, key in ((axes[1], "mean_abs_max"), (axes[2], "kl_prior")):
            ax.plot(epochs, column(key), color=color, label=f"{label}: on test images")
            if dreamed:
                ax.plot(epochs, column("dream_" + key), "--", color=color, label=f"{label}: on dreams")
        axes[3].plot(epochs, column("ess"), color=color, label=f"{label}: effective sample size / {k}")
        axes[3].plot(epochs, column("dominated"), "--", color=color, label=f"{label}: images where one weight > 0.9")
        axes[4].plot(epochs, column("data_log_q"), color=color, label=f"{label}: on test images")
        if dreamed:
            axes[4].plot(epochs, column("dream_log_q"), "--", color=color, label=f"{label}: on dreams (sleep loss)")
            axes[5].plot(epochs, column("dream_nearest"), "--", color=color, label=f"{label}: dream to nearest image")
            axes[5].plot(epochs, column("data_nearest"), ":", color=color, label=f"{label}: image to nearest other")
    titles = ("a. q's log-variances: median, 1st-99th percentile, extremes", "b. q's largest |mean|",
              "c. mean KL(q(z|x) || p(z)), nats", f"d. {k} importance weights per image (0 to 1)",
              "e. -log q(z | x), nats", "f. root-mean-square pixel distance")
    for ax, title in zip(axes, titles):
        ax.set_title(title, fontsize=11)
        epoch_axis(ax, all_epochs)
        ax.grid(alpha=0.3)
        if ax.has_data():
            ax.legend(fontsize=9)
        else:
            ax.set_visible(False)
    for ax in axes[1:3]:        # |mean| and the KL run over orders of magnitude when q runs away: then a log scale
        values = np.concatenate([line.get_ydata() for line in ax.get_lines()]) if ax.has_data() else np.array([])
        values = values[np.isfinite(values) & (values > 0)]
        if values.size and values.max() > 10 * values.min():
            ax.set_yscale("log")
            ax.yaxis.set_minor_locator(matplotlib.ticker.LogLocator(subs=(2, 5)))
            for set_formatter in (ax.yaxis.set_major_formatter, ax.yaxis.set_minor_formatter):  # 20, not 2x10^1
                set_formatter(matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:g}"))
    axes[3].set_ylim(0, 1)
    fig.suptitle("the recognition network epoch by epoch: solid on test images, dashed on the model's dreams "
                 "(z ~ p(z), x ~ p(x | z))", fontsize=12)
    fig.subplots_adjust(left=0.05, right=0.99, bottom=0.07, top=0.9, wspace=0.22, hspace=0.35)  # tight_layout: 0.3 s
    fig.savefig(path, dpi=100)
    plt.close(fig)


def epoch_axis(ax, epochs):
    """An x axis of whole epochs; a single epoch gets a range of one epoch round it, not matplotlib's +-4%."""
    ax.set_xlabel("epoch")
    ax.xaxis.get_major_locator().set_params(integer=True)
    if epochs and min(epochs) == max(epochs):
        ax.set_xlim(min(epochs) - 0.5, max(epochs) + 0.5)


def plot_losses(path, history, titles):
    """One panel per training loss (AEVB: -ELBO; IWAE: -L_k; Wake-Sleep: wake and sleep) against epoch; titles: the
    trainer's losses, {name: title} (algorithms/options.py)."""
    names = list(titles)
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 4), squeeze=False)
    epochs = [h["epoch"] for h in history]
    for ax, name in zip(axes[0], names):
        ax.plot(epochs, [h[name] for h in history], marker=".")
        ax.set_title(titles[name])
        epoch_axis(ax, epochs)
        ax.set_ylabel("nats per image")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def class_colours(labels):
    """Each distinct label its own colour: (colour index per point, the classes, a colormap)."""
    classes = np.unique(labels)
    cmap = "tab10" if len(classes) <= 10 else "tab20" if len(classes) <= 20 else "viridis"
    return np.searchsorted(classes, labels), classes, plt.get_cmap(cmap, len(classes))


def plot_latent_scatter(path, means, labels):
    """Latent means (N, 2) coloured by class, with a colour bar naming every class; a 1-D latent (N, 1) as one
    strip per class (the means along z, jittered vertically within the strip)."""
    index, classes, cmap = class_colours(labels)
    fig, ax = plt.subplots(figsize=(6, 5))
    if means.shape[1] == 1:
        jitter = np.random.default_rng(0).uniform(-0.3, 0.3, len(labels))
        points = ax.scatter(means[:, 0], index + jitter, c=index, cmap=cmap, vmin=-0.5, vmax=len(classes) - 0.5, s=4)
        ax.set_yticks(range(len(classes)), [str(c) for c in classes])
        ax.set_xlabel("$z$")
        ax.set_ylabel("class")
    else:
        points = ax.scatter(means[:, 0], means[:, 1], c=index, cmap=cmap, vmin=-0.5, vmax=len(classes) - 0.5, s=4)
        ax.set_xlabel("$z_1$")
        ax.set_ylabel("$z_2$")
        bar = fig.colorbar(points, ax=ax, label="class")
        if len(classes) <= 20:
            bar.set_ticks(range(len(classes)), labels=[str(c) for c in classes])
    ax.set_title(f"latent means of {len(labels)} test images")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def latent_grid(size, limits):
    """size x size points of a regular grid over the square limits = (low, high) on both axes, row-major, the top
    row at z_2 = high and the first column at z_1 = low (so that the tiled images sit where the axes say)."""
    values = np.linspace(*limits, size)
    z1, z2 = np.meshgrid(values, values[::-1])
    return np.stack([z1.ravel(), z2.ravel()], axis=1)


def save_manifold(path, images, image_shape, size, limits, title):
    """Decoded grid images (see latent_grid) tiled at their latent positions, with z_1 to the right and z_2 up in
    z units: each tile is centred on the point it was decoded from."""
    step = (limits[1] - limits[0]) / (size - 1)
    extent = (limits[0] - step / 2, limits[1] + step / 2, limits[0] - step / 2, limits[1] + step / 2)
    fig, ax = plt.subplots(figsize=(7.5, 7.5))
    ax.imshow(tile(images, image_shape, size, size, gap=0), cmap="gray", vmin=0, vmax=1, extent=extent,
              interpolation="nearest")
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_gaps(path, gaps):
    """log p(x) - L_k against k (log axis) with standard-error bars; gaps: {label: {k (str): (mean, se)}}."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for (label, by_k), color in zip(gaps.items(), COLOURS):
        ks = sorted(by_k, key=int)
        ax.errorbar([int(k) for k in ks], [by_k[k][0] for k in ks], yerr=[by_k[k][1] for k in ks], marker="o",
                    capsize=3, color=color, label=label)
    ax.set_xscale("log")
    ax.set_xlabel("k")
    ax.set_ylabel(r"$\log p(\mathbf{x}) - \mathcal{L}_k$ (nats per image)")
    ax.set_title("how far the bound sits below the exact log-likelihood")
    ax.set_ylim(bottom=0)
    ax.legend()
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_posteriors(path, panels, title):
    """For each panel: the digit, then p(z | x) as a heat map over panel["extent"] with q's 1- and 2-sd ellipses
    (q is a diagonal Gaussian, so its ellipses are axis-aligned). Four digits a row."""
    from matplotlib.patches import Ellipse

    rows = -(-len(panels) // 4)
    fig, axes = plt.subplots(rows, 8, figsize=(16, 2.2 * rows), gridspec_kw={"width_ratios": [1, 2] * 4})
    for n, panel in enumerate(panels):
        image_ax, post_ax = axes.flat[2 * n], axes.flat[2 * n + 1]
        image_ax.imshow(panel["image"], cmap="gray", vmin=0, vmax=1)
        image_ax.set_title(f"label {panel['label']}", fontsize=9)
        image_ax.axis("off")
        post_ax.imshow(panel["density"], extent=panel["extent"], cmap="magma", origin="upper", aspect="equal")
        for scale, style in ((1, "-"), (2, "--")):
            post_ax.add_patch(Ellipse(panel["q_mean"], 2 * scale * panel["q_sd"][0], 2 * scale * panel["q_sd"][1],
                                      fill=False, color="cyan", linestyle=style, linewidth=1))
        post_ax.set_xlim(panel["extent"][:2])
        post_ax.set_ylim(panel["extent"][2:])
        post_ax.tick_params(labelsize=7)
        post_ax.set_xlabel("$z_1$", fontsize=8, labelpad=1)
        post_ax.set_ylabel("$z_2$", fontsize=8, labelpad=1)
    for ax in axes.flat[2 * len(panels):]:
        ax.axis("off")
    fig.suptitle(f"{title}: p(z | x) (heat map) and q(z | x) (cyan: 1 sd solid, 2 sd dashed)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
