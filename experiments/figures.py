"""The figures of section 1.6, each written to a PNG. Plotting only: no training, no evaluation."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402


def tile(images, image_shape, rows, cols):
    """(rows * cols, H * W) images -> one (rows * H, cols * W) array, row-major."""
    height, width = image_shape
    grid = images.reshape(rows, cols, height, width).transpose(0, 2, 1, 3)
    return grid.reshape(rows * height, cols * width)


def save_tiles(path, images, image_shape, rows=10, cols=10):
    """Grey-level tiles at one pixel per image pixel (10 x 10 MNIST digits: 280 x 280)."""
    plt.imsave(path, tile(images, image_shape, rows, cols), cmap="gray", vmin=0, vmax=1)


def plot_lk(path, histories, k):
    """L_k on test (solid) and train (dashed) against epoch; histories: {label: history}."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for (label, history), color in zip(histories.items(), ("C0", "C1")):
        for key, style, split in (("test_lk", "-", "test"), ("train_lk", "--", "train")):
            points = [(h["epoch"], h[key]) for h in history if h[key] is not None]
            if points:
                ax.plot(*zip(*points), style, marker="o", color=color, label=f"{label} {split}")
    ax.set_xlabel("epoch")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel(f"$\\mathcal{{L}}_{{{k}}}$ (nats per image)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_losses(path, history, names):
    """One panel per training loss (AEVB: -ELBO; Wake-Sleep: wake and sleep) against epoch."""
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 4), squeeze=False)
    titles = {"loss": "AEVB: mean negative ELBO", "wake_loss": "wake phase: -log p(x | z)",
              "sleep_loss": "sleep phase: -log q(z | x)"}
    epochs = [h["epoch"] for h in history]
    for ax, name in zip(axes[0], names):
        ax.plot(epochs, [h[name] for h in history], marker=".")
        ax.set_title(titles[name])
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_ylabel("nats per example")
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


def latent_grid(size, limit):
    """size x size points of a regular grid over [-limit, limit]^2, row-major, top row at z_2 = +limit."""
    values = np.linspace(-limit, limit, size)
    z1, z2 = np.meshgrid(values, values[::-1])
    return np.stack([z1.ravel(), z2.ravel()], axis=1)


def save_manifold(path, images, image_shape, size):
    """Decoded grid images tiled at their latent positions (see latent_grid)."""
    save_tiles(path, images, image_shape, size, size)


def plot_gaps(path, gaps):
    """log p(x) - L_k against k (log axis) with standard-error bars; gaps: {label: {k (str): (mean, se)}}."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for (label, by_k), color in zip(gaps.items(), ("C0", "C1", "C2", "C3")):
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
