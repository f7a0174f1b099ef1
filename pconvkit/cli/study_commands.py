"""`benchmark study`: the paper's user study (Section 4.4, Fig. 9), created from a run, served,
exported to MTurk, imported back and tallied."""

import click

from pconvkit.cli import options as opt
from pconvkit.cli.inputs import method_names, run_images, run_networks


@click.group("study", cls=opt.Group)
def benchmark_study():
    """The paper's user study (Section 4.4, Fig. 9): pairwise A/B trials in a browser, a tally."""


@benchmark_study.command("create")
@click.argument("results", type=click.Path())
@opt.option("--design", "unlimited", click.Choice(["unlimited", "limited"]), "Fig. 9a (unlimited) or 9b (limited).")
@opt.methods("pconv,patchmatch,telea", help="Comma-separated methods of the run to compare.")
@opt.option("--per-method", 300, opt.POSITIVE, "Inputs per method (paper: 300).")
@opt.option("--repeats", 10, opt.POSITIVE, "Answers per trial (paper: 10).")
@opt.option(
    "--times", "250,1000,4000", help="Display durations in ms of the limited design.", callback=opt.positive_int_list
)
@opt.seed
@opt.images
@opt.apply(opt.NETWORKS)
@opt.out_folder()
def benchmark_study_create(
    results, design, methods, per_method, repeats, times, seed, images, checkpoint, conv_checkpoint, out
):
    """Draw the trials from a run's pairs and render their images into a study folder."""
    from pconvkit.benchmark.study import create_study

    names = method_names(methods)
    images, options = run_images(images, results), run_networks(results, checkpoint, conv_checkpoint)
    path = create_study(
        results, images, design, names, out, per_method, repeats, opt.csv_list(times, int), seed, options
    )
    click.echo(str(path))


@benchmark_study.command("serve")
@click.argument("study", type=click.Path())
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--max-participants",
    type=click.IntRange(1),
    default=None,
    help="Refuse new sessions (403) once this many participants have started. Default: no cap.",
)
def benchmark_study_serve(study, port, host, max_participants):
    """Serve the study's pages (participants at /, progress at the admin address it prints) until interrupted."""
    from pconvkit.benchmark.study_server import serve

    serve(study, host, port, max_participants, log=click.echo)


@benchmark_study.command("export")
@click.argument("study", type=click.Path())
@opt.out_folder()
@click.option("--base-url", required=True, help="Where the exported images/ folder will be served from.")
def benchmark_study_export(study, out, base_url):
    """The trials as an MTurk HIT layout (hit.html) and its input CSV, images by token names."""
    from pconvkit.benchmark.study import export_mturk

    click.echo(str(export_mturk(study, out, base_url)))


@benchmark_study.command("import")
@click.argument("study", type=click.Path())
@click.argument("batch", type=click.Path())
def benchmark_study_import(study, batch):
    """Bring MTurk's batch-results CSV into the study's answers."""
    from pconvkit.benchmark.study import import_mturk

    click.echo(f"{import_mturk(study, batch)} answers added")


@benchmark_study.command("tally")
@click.argument("study", type=click.Path())
@opt.out_folder()
def benchmark_study_tally(study, out):
    """Preference rates with 95 % intervals (bootstrap over participants and images), CSV, LaTeX and a plot."""
    from pconvkit.benchmark.report import require_matplotlib
    from pconvkit.benchmark.study import write_tally
    from pconvkit.files import ensure_writable_dir

    require_matplotlib()
    for path in write_tally(study, ensure_writable_dir(out)):
        click.echo(str(path))
