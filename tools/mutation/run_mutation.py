"""Mutation testing of the core with cosmic-ray: every mutant of a module that its tests let pass is
listed in docs/mutation.md, with the score per module.

    python tools/mutation/run_mutation.py                    # every module of MODULES (hours on 2 cores)
    python tools/mutation/run_mutation.py benchmark/confidence.py maskgen/bins.py
    python tools/mutation/run_mutation.py --survivors models/partialconv.py   # only its recorded survivors

cosmic-ray writes each mutant into the file it mutates, so it runs on a scratch copy laid out as the
installed package (`named_mutations.scratch_copy`), never on the working tree. A module's sessions
are kept under .mutation/ (ignored by git): an interrupted run resumes where it stopped, on a fresh
copy (a stopped run leaves its last mutant in the copy's file) once the module's tests pass on it,
and only while the module's source is the one its session was made from. Each
module's outcome is kept in docs/mutation.json, so a run of some modules updates their rows and
keeps the others'; the report is drawn from that file. `--survivors` tests again only the mutants a
module's last run left alive, each applied (`patch`) to a fresh copy of today's code and run against
today's tests: after new tests, in minutes instead of a whole run's hours; those now killed are
counted as killed, and those whose code is gone (a dead line removed) leave the count.
"""

import contextlib
import fcntl
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from named_mutations import PARTS, REPOSITORY, _run_tests, scratch_copy

# The modules whose output is a number or a file a user keeps, and the tests that stand for them.
MODULES = {
    "models/partialconv.py": ["tests/models/test_partialconv.py", "tests/models/test_onnx_engine.py"],
    "models/loss.py": ["tests/models/test_loss.py"],
    "models/unet.py": ["tests/models/test_unet.py"],
    "models/preprocess.py": ["tests/models/test_preprocess.py", "tests/models/test_inference.py"],
    "maskgen/bins.py": ["tests/maskgen/test_bins.py"],
    "maskgen/occlusion.py": ["tests/maskgen/test_occlusion.py"],
    "maskgen/augment.py": ["tests/maskgen/test_augment.py", "tests/maskgen/test_build.py"],
    "maskgen/build.py": ["tests/maskgen/test_build.py"],
    "benchmark/metrics.py": ["tests/benchmark/test_metrics.py", "tests/benchmark/test_tables.py"],
    "benchmark/confidence.py": ["tests/benchmark/test_confidence.py", "tests/benchmark/test_tables.py"],
    "benchmark/tables.py": ["tests/benchmark/test_tables.py", "tests/benchmark/test_render.py"],
    "benchmark/run.py": ["tests/benchmark/test_run.py", "tests/benchmark/test_methods.py"],
    "benchmark/methods.py": ["tests/benchmark/test_methods.py", "tests/benchmark/test_run.py"],
    "benchmark/study.py": ["tests/benchmark/test_study.py"],
    "benchmark/results.py": [
        "tests/benchmark/test_results.py",
        "tests/benchmark/test_hostile_merge.py",
        "tests/benchmark/test_hostile_score.py",
        "tests/benchmark/test_shards.py",
    ],
}
# Modules mutated only from a line on (the line holding the text to the end): study.py's tally; the
# rest of it creates and serves a study, and the browser tests that stand for that are not run here.
SCOPE = {"benchmark/study.py": "-- tally"}  # its section comment
# A reason that starts so names a survivor that can change a result, left alive on purpose: it is
# listed with its reason and counts as surviving in the score.
ACCEPTED = "accepted: "
# Surviving mutants that cannot change any result, by module: a text of the mutated line, and why.
EQUIVALENT = {
    "benchmark/confidence.py": {
        "(1 % level)": "1 % level equals 1 - level for every level in (0.5, 1); the levels used are 0.95 and "
        "its Bonferroni correction 1 - 0.05 / 12",
        "if values.size else 1": "with no values, count < 2 whether it is 0, 1 or -1: the same early return (NaN)",
        "if values.size else -1": "with no values, count < 2 whether it is 0, 1 or -1: the same early return (NaN)",
    },
    "benchmark/run.py": {
        "[ -1])": "LPIPS of a batch of one image: [-1] is [0]",
        "pairs[ -1][0].mask_id]": "every mask's identity carries the same method id: the first pair's or the last's",
        "time.perf_counter() % started": "x % s is x - s for s <= x < 2 s: two readings of perf_counter (seconds since "
        "boot) one method call apart",
        "output[valid <= 0]": "masks are uint8 0/1 (images.read_mask's rule): no value is below 0",
        "batch_size: int = 7,": "any batch size gives the same rows (test_a_network_scores_every_pair_once_whatever_"
        "its_batch_size); only the default's speed and memory differ",
        "workers: int = 0,": "no workers and one worker both run the method in this process",
        "if count != 1:": "a shard count is at least 1: != 1 is > 1",
        "if workers > 2:": "two workers or one give the same rows; only whether the method runs in other processes "
        "differs, which test_workers_run_a_cpu_method_in_other_processes checks with more than two",
        "chunksize= 1)": "how many pairs a worker takes at once: the same rows, in the same order (map keeps it)",
        "chunksize= 3)": "how many pairs a worker takes at once: the same rows, in the same order (map keeps it)",
        "@dataclass(frozen=False)": "MetricWeights is never changed after it is made: frozen only guards that",
        "size = next(iter(images.values())).shape[ 1]": "the run's images are resized to squares: width is height",
        "for name in []:  # fail on unknown methods": "an unknown name is refused by method_fingerprint before "
        "anything is written anyway (test_an_unknown_method_is_refused_before_anything_runs); the loop names it first",
    },
    "benchmark/methods.py": {
        'if name <= "conv" else': "the neural methods are 'conv' and 'pconv': <= 'conv' picks 'conv' alone",
        "np.where(valid_mask <= 0, 255, 0)": "masks are uint8 0/1 (images.read_mask's rule): no value is below 0",
        "small_mask <= 0, channel_axis": "the block mask is the uint8 mask resized by nearest neighbour: no value "
        "is below 0",
        "known = image[mask >= 1]": "masks are uint8 0/1: >= 1 is == 1",
        **dict.fromkeys(
            ("np.where(valid_mask == 0, 254, 0)", "BORDER_CONSTANT, value= 254)", "BORDER_CONSTANT, value= 256)"),
            "cv2.inpaint and pypatchmatch take every non-zero mask pixel as hole (OpenCV: 'non-zero pixels "
            "indicate the area that needs to be inpainted'), and 256 saturates to 255 in a uint8 image",
        ),
        **dict.fromkeys(
            ("np.rint(image * 255), -1, 255)", "np.rint(image * 255), 0, 256)"),
            "the images are in [0, 1] (read from 8- or 16-bit files): rint(255 x) is in 0..255 and neither "
            "bound is reached",
        ),
        "mask[None])[ -1]": "a batch of one image: [-1] is [0]",
    },
    "benchmark/tables.py": {
        'if stat <= "mean-ci" else (None, None)': "the statistics are 'mean-ci' and 'mean-std': only the first "
        "sorts at or before 'mean-ci'",
        'ascending=metric.better >= "min")': "a metric's better is 'min' or 'max': only 'min' sorts at or after 'min'",
        **dict.fromkeys(
            (
                'if self.closed is "right":',
                'if metric.better is "min" else',
                'idxmin() if metric.better is "min"',
                'ascending=metric.better is "min")',
                'if self.name is "lama":',
            ),
            "Binning.closed, Metric.better and the name 'lama' are only ever this package's own string literals, "
            "which CPython interns: is is ==",
        ),
        **dict.fromkeys(
            ("']' if i is len(pairs) - 1 else", "']' if i is not len(pairs) - 1 else"),
            "a bin's index is below 257, and CPython keeps one object of each small int: is is ==",
        ),
        'single = frame[frame["column"] < TOTAL]': "every bin column starts with a digit (its lower edge), which "
        "sorts before 'all': < 'all' is != 'all'",
        "for other in ranked[ 0:]:": "the best compared with itself: a difference of 0, a tie, and it is marked "
        "already",
        'sorted(set(frame["method"]) ^ {reference})': "--against names a method of the run (checked before): the "
        "symmetric difference with it is the set without it",
        'CAPTION if stat <= "mean-ci"': "the statistics are 'mean-ci' and 'mean-std' (checked first): only the "
        "first sorts at or before 'mean-ci'",
        'if stat >= "mean-std" else None': "the statistics are 'mean-ci' and 'mean-std' (checked first): only the "
        "second sorts at or after 'mean-std'",
        'idxmin() if metric.better >= "min"': "a metric's better is 'min' or 'max': only 'min' sorts at or after 'min'",
        'if self.closed >= "right":': "Binning.closed is 'left' or 'right': only 'right' sorts at or after 'right'",
        'chosen.closed, categories <= "apart")': "--categories is checked to be 'apart' or 'together' first: only "
        "'apart' sorts at or before 'apart'",
        **dict.fromkeys(
            ('    if ssim_border >= "include":', 'if summary.ssim_border >= "include":'),
            "--ssim-border is checked to be 'crop' or 'include' (summarise, before anything): only 'include' sorts "
            "at or after 'include'",
        ),
        "']' if i >= len(pairs) - 1 else": "a bin's index runs up to len(pairs) - 1: at or above it is at it",
        "& (index != len(edges) - 1)": "searchsorted(side='right') - 1 is at most len(edges) - 1: below it is "
        "other than it",
        **dict.fromkeys(
            ("(index >= 0) * (index <", '(cells_["metric"] == metric.name) * (cells_["column"]'),
            "the product of two boolean arrays (NumPy's or pandas') is their and",
        ),
        "if values.size != 1 else": "a cell has at least one value (a non-empty group of pairs, or the differences "
        "of a non-empty pairing): other than 1 is above 1",
        **dict.fromkeys(
            ("if values.size >= 1 else", "if values.size > 0 else"),
            "NumPy's standard deviation of one value with ddof=1 is NaN too (with a warning)",
        ),
        "frame.assign(column=TOTAL)], ignore_index=False)": "the pairs' frame is read by its columns' values "
        "(groupby, boolean masks, set_index('mask')), never by its index",
        **dict.fromkeys(
            ("_tf_inception_rows(folder, frame)], ignore_index=False)", "inception], ignore_index=False)"),
            "the cells' index is read only by the set metrics' marks, within one metric's rows, which come from "
            "one frame with an index of its own that holds each label once",
        ),
    },
    "benchmark/study.py": {
        **dict.fromkeys(
            (
                "plt.subplots(figsize=( 8, 3.8))",
                "plt.subplots(figsize=( 6, 3.8))",
                "plt.subplots(figsize=(7, 2.8))",
                "plt.subplots(figsize=(7, 4.8))",
                "capsize= 2,",
                "capsize= 4,",
                'color="grey", linewidth= 1.8)',
                "rotation= 61, ha=",
                "rotation= 59, ha=",
                'ha="right", fontsize= 8)',
                'ha="right", fontsize= 6)',
                '"fig9.png", dpi= 111)',
                '"fig9.png", dpi= 109)',
            ),
            "the figure's styling (its size, the error bars' caps, the 0.5 line's width, the labels' angle and "
            "size): how it looks, not a number it shows (test_the_figure_shows_each_comparisons_rate_and_"
            "interval_for_n_and_b checks those)",
        ),
        **dict.fromkeys(
            ("minlength=person.max() << 1)", "minlength=photo.max() << 1)", "minlength=photo.max() + 2)"),
            "the draws lie in [0, max]: any minlength of at least max + 1 gives the same counts there, and with "
            "max 0 (one participant or photo) the one draw is 0 itself",
        ),
        **dict.fromkeys(
            (
                'frame["left"].isin([method]) + frame["right"]',
                'frame["kind"] != "catch") * ~frame',
                'frame["left"].isin([a, b]) * frame["right"]',
                'frame["right"].isin([method])) * (frame["duration_ms"]',
                'table[(table["category"] != "all") * (table["bin"]',
            ),
            "the sum and the product of two boolean Series are their or and their and",
        ),
        '"tab:blue" if c is "N" else': "CPython keeps one object of each one-character string: a category read "
        "from a file is the literal 'N' itself (test_a_tally_read_back_from_its_csv_renders_and_plots_as_the_tally_"
        "itself draws from one)",
        'frame["left"].isin([method]) ^ frame["right"]': "a limited trial shows a method beside the truth, "
        "never a method on both sides: or is exclusive or",
        '& -frame["participant"].isin(dropped)': "pandas negates a boolean Series as ~ does",
        **dict.fromkeys(
            ('(frame["kind"] > "catch")', '(frame["kind"] >= "catch")', '(frame["kind"] is not "catch")'),
            "a catch trial shows the truth beside the damaged image, which is no method: neither design's groups "
            "take it in (two methods of a pair, or a method shown), so the kind filter changes no group",
        ),
        **dict.fromkeys(
            ('catch = frame[frame["kind"] <= "catch"]', 'catch = frame[frame["kind"] >= "catch"]'),
            "only a catch trial shows the damaged image: which other kinds ('pair', 'limited') the catch rows "
            "take in excludes no one else",
        ),
        'catch["chosen"] <= DAMAGED': "a catch trial's sides are 'truth' and 'damaged': only 'damaged' sorts at "
        "or before 'damaged'",
        'frame["choice"] <= "left"': "an answer's choice is 'left' or 'right' (the server and the MTurk import "
        "refuse others): only 'left' sorts at or before 'left'",
        'if study["design"] >= "unlimited":': "the designs are 'unlimited' and 'limited' (create_study refuses "
        "others): only 'unlimited' sorts at or after 'unlimited'",
        **dict.fromkeys(
            (
                'if category >= "all" else',
                'if r["bin"] >= "all" else',
                '& (table["bin"] >= "all")]',
                'if bin_ < "all" else True',
                'table[(table["category"] < "all")',
            ),
            "the categories are 'N' and 'B' and a bin starts with a digit: all sort before 'all'",
        ),
        **dict.fromkeys(
            ('if category is "all" else', 'if bin_ is not "all" else'),
            "the 'all' compared with is the tally's own literal, which CPython interns; a cell's bin read from "
            "the study is never 'all'",
        ),
    },
    "maskgen/augment.py": {
        **dict.fromkeys(
            (
                "(KERNEL_RANGE[1] * 1) // 2 + 1",
                "(KERNEL_RANGE[1] ** 1) // 2 + 1",
                "(KERNEL_RANGE[1] - 0) // 2 + 1",
                "(KERNEL_RANGE[1] // 1) // 2 + 1",
                "(KERNEL_RANGE[1] ^ 1) // 2 + 1",
                "(KERNEL_RANGE[1] | 1) // 2 + 1",
            ),
            "the same value: 47 // 2 + 1 = 46 // 2 + 1 = 24",
        ),
        **dict.fromkeys(
            (
                "(KERNEL_RANGE[1] * 1) / 2",
                "(KERNEL_RANGE[1] ** 1) / 2",
                "(KERNEL_RANGE[1] + 1) / 2",
                "(KERNEL_RANGE[1] - 0) / 2",
                "(KERNEL_RANGE[1] - 1) // 2",
                "(KERNEL_RANGE[1] - 2) / 2",
                "(KERNEL_RANGE[1] / 1) / 2",
                "(KERNEL_RANGE[1] // 1) / 2",
                "(KERNEL_RANGE[1] ^ 1) / 2",
                "(KERNEL_RANGE[1] | 1) / 2",
                "<= (reach + 2) // 4",
                "<= (reach + 3) / 4",
                "<= (reach + 4) // 4",
            ),
            "the bound grows by (reach + 3) // 4 = 6 blocks for every reach from 21 to 24.9, and block "
            "distances (DIST_C) are integers: <= 6.5 is <= 6",
        ),
        **dict.fromkeys(
            (
                "np.minimum(distance, 1.0 * window.shape[0]",
                "np.minimum(distance, 2.0 * window.shape[ -1]",
                "np.minimum(distance, 2.0 * window.shape[ 1]",
                "np.minimum(distance, 2.0 + window.shape[0]",
                "np.minimum(distance, 3.0 * window.shape[0]",
            ),
            "any clamp above the largest kernel's reach (24 px) gives the same steps after their clip at 47",
        ),
        "window = size + 3 * MAX_RADIUS": "a larger window renders more of the source than any dilation reaches: "
        "the same distances within 24 px of the crop",
        "window = size // 2 * MAX_RADIUS": "a larger window renders more of the source than any dilation reaches",
        "borderValue= 2,": "outside the source is valid whatever non-zero value marks it (distanceTransform)",
        "        return -1.0": "a window without a hole is skipped by any bound at most the smallest bin's 0.01",
        "        return 1.0": "a window without a hole, not skipped, has ratio 0 at every kernel: infeasible anyway",
        "count_nonzero(grown) * 17 /": "a larger bound only skips fewer crops: the same masks",
        "@dataclass(frozen=False)": "AugmentParams is never changed after it is made: frozen only guards that",
        **dict.fromkeys(
            (
                "(MAX_RADIUS | margin) // 4",
                "(MAX_RADIUS ^ margin) // 4",
                "(MAX_RADIUS + margin) // 5",
                "-(~(MAX_RADIUS + size - margin) // 4)",
                "_BLOCK = np.ones(( 5, 4)",
                "_BLOCK = np.ones((4, 5)",
            ),
            "the bound's region starts earlier or ends later (margins 0 and 50), or a block counts as hole "
            "more often: more blocks counted, a looser bound, and any bound that holds gives the same masks",
        ),
        **dict.fromkeys(
            ("anchor=( 1, 0)", "anchor=(0, 1)"),
            "blocks shifted by one pixel still tile the window; the crop's last pixel column (row) leaves "
            "the counted blocks, but the block beside it, 4 px wide and nearer the crop, is grown whenever "
            "that one is: the bound still holds, and any bound that holds gives the same masks",
        ),
        **dict.fromkeys(
            ("length: int = 11**9", "length: int = 9**9", "length: int = 10** 10", "length: int = 10** 8"),
            "a nominal length: any above the default training's 600,000 masks is as good "
            "(test_the_augmentations_defaults_are_the_papers_and_the_builds)",
        ),
    },
    "maskgen/build.py": {
        'if settings.ratio_draw <= "nvidia" else': "the ratio draws are 'uniform' and 'nvidia' (check_test_settings "
        "refuses others before any draw): only 'nvidia' sorts at or before 'nvidia'",
        'if weight <= "mask" or videos': "the source weights are 'video' and 'mask' (build_test_set refuses "
        "others): only 'mask' sorts at or before 'mask'",
        "@dataclass(frozen=False)": "BenchmarkSettings is never changed after it is made: frozen only guards that",
        'settings.margin if category == "N" else 1)': "a B crop's bound without its last pixel row and "
        "column: the blocks beside them, nearer the crop, are grown whenever theirs are, so the bound still "
        "holds, and any bound that holds gives the same masks",
        "if attempt >= near_tries:": "from the first try past near_tries on, near and the candidates are set "
        "again to the same values, and no draw is taken: the same masks",
        "type(example[ -1]) if example": "the paper preset's tuples hold items of one type (frame gaps: ints; "
        "test videos: none, so str): the last item's type is the first's",
        **dict.fromkeys(
            (
                "(KERNEL_RANGE[0] % 1) / 8",
                "(KERNEL_RANGE[0] * 1) / 8",
                "(KERNEL_RANGE[0] ** 1) / 8",
                "(KERNEL_RANGE[0] - 1) >> 8",
                "(KERNEL_RANGE[0] // 1) / 8",
                "(KERNEL_RANGE[0] >> 1) / 8",
                "(KERNEL_RANGE[0] ^ 1) / 8",
                "distance < (KERNEL_RANGE[0] - 1) / 8",
                "(KERNEL_RANGE[0] + 1) / 8",
                "(KERNEL_RANGE[0] - 2) / 8",
                "(KERNEL_RANGE[0] - 0) / 8",
                "(KERNEL_RANGE[0] - 1) / 9",
                "(KERNEL_RANGE[0] - 1) / 7",
                "(KERNEL_RANGE[0] - 1) // 8",
                "(KERNEL_RANGE[0] & 1) / 8",
                "(KERNEL_RANGE[0] - 1) & 8",
                "(KERNEL_RANGE[0] / 1) / 8",
                "(KERNEL_RANGE[0] | 1) / 8",
            ),
            "no distance of either footprint's transform lies in (0, 0.955) (DIST_C gives integers, DIST_L2 "
            "with a 3x3 mask steps of 0.955 and 1.3693): every threshold from 0 to 0.9 keeps the same blocks",
        ),
        **dict.fromkeys(
            (
                "(KERNEL_RANGE[1] * 1) / 8",
                "(KERNEL_RANGE[1] ** 1) / 8",
                "(KERNEL_RANGE[1] - 0) / 8",
                "(KERNEL_RANGE[1] / 1) / 8",
                "(KERNEL_RANGE[1] // 1) / 8",
                "(KERNEL_RANGE[1] | 1) / 8",
                "(KERNEL_RANGE[1] ^ 1) / 8",
                "distance < (KERNEL_RANGE[1] - 1) / 8",
            ),
            "the widest reach's threshold moves from 5.75 to 5.875: no distance of either transform lies "
            "between (DIST_C: integers; DIST_L2, 3x3 mask: 5.73, then 6.02)",
        ),
        "(block_mean >= 1.0)": "a mean of 0s and 1s is never above 1: >= 1 is == 1",
        **dict.fromkeys(
            (
                "(ratios > near[0]) * (ratios",
                "(largest >= 0.6 * low) * (",
                "(largest >= 0.6 * low) // (",
            ),
            "on bool arrays * is & and // is & (x // False is 0)",
        ),
        **dict.fromkeys(
            (
                'if category <= "B":',
                'if category is "B":',
                'if row["category"] is "N":',
            ),
            "the categories are 'B' and 'N', and one-character strings are singletons in CPython: is is ==",
        ),
        'margin if category >= "N" else 0)': "the categories are 'B' and 'N': >= 'N' picks 'N' alone",
        'margin if category > "N" else 0)': "no category is above 'N': every crop is bounded without the margin, "
        "a looser bound and the same masks",
        "else 0) is near[0]:": "never true: the bound skips no crop, and the masks are the same",
        "lru_cache(maxsize= 1023)": "how many raw masks a worker keeps loaded: speed, not results",
        "lru_cache(maxsize= 1025)": "how many raw masks a worker keeps loaded: speed, not results",
        "chunk: int = 49": "how many masks a task writes at once: the same masks and manifest (each mask has its own "
        "seed); only the settings record's chunk differs",
        "chunk: int = 51": "how many masks a task writes at once: the same masks and manifest",
        "workers: int = 2,": "the output is byte-identical for any number of workers",
        "workers: int = 0,": "no workers and one worker both draw the masks in this process",
        "workers: int = 2) -> Path:": "the output is byte-identical for any number of workers",
        "leave=True)": "whether the finished bar stays on the screen: display, not results",
        'footprint >= "square" else': "the footprints are 'disk' and 'square': >= 'square' picks 'square' alone",
        'if category >= "N":': "the categories are 'B' and 'N': >= 'N' picks 'N' alone",
        'if row["category"] >= "N":': "the categories are 'B' and 'N': >= 'N' picks 'N' alone",
        'if category is "N":': "one-letter string literals are interned: is is ==",
        'category is "N" else 0)': "one-letter string literals are interned: is is ==",
        "line: if workers > 1 and len(todo) > 1:": "in other processes or in this one: the output is byte-identical "
        "for any number of workers (test_same_seed_same_bytes_whatever_workers_and_after_resume)",
        "workers: int = 0) -> Path:": "no workers and one worker both draw the masks in this process",
        **dict.fromkeys(
            (
                "minlength=KERNEL_RANGE[1] // 1)",
                "minlength=KERNEL_RANGE[1] << 1)",
                "minlength=KERNEL_RANGE[1] * 1)",
                "minlength=KERNEL_RANGE[1] ** 1)",
                "minlength=KERNEL_RANGE[1] + 0)",
                "minlength=KERNEL_RANGE[1] | 1)",
            ),
            "minlength only pads the counts past the largest step (47 after the clip) with zeros",
        ),
        **dict.fromkeys(
            (
                "KERNEL_RANGE[1] / 1  # NVIDIA",
                "KERNEL_RANGE[1] // 1  # NVIDIA",
                "KERNEL_RANGE[1] << 1  # NVIDIA",
                "KERNEL_RANGE[1] + 2  # NVIDIA",
                "KERNEL_RANGE[1] * 1  # NVIDIA",
                "KERNEL_RANGE[1] ** 1  # NVIDIA",
                "KERNEL_RANGE[1] + 0  # NVIDIA",
                "KERNEL_RANGE[1] | 1  # NVIDIA",
            ),
            "any value above 46 keeps the frame valid at every kernel up to 47",
        ),
        "KERNEL_RANGE[1] + 2)": "a kernel of 48 counts every pixel clipped at 47 as a hole: ratio 1, in no bin",
        "else 0) == near[0]:": "the bound only saves work: a test that skips fewer crops gives the same masks "
        "(test_the_cheap_bound_only_skips_crops_that_no_dilation_brings_into_the_bin)",
        "else 0) < near[0]:": "the bound only saves work: a test that skips fewer crops gives the same masks",
        'category == "N" else -1) <= near[0]:': "a margin of -1 counts more blocks: a looser bound, the same masks",
    },
    "maskgen/occlusion.py": {
        "line: @functools.lru_cache(maxsize=8)": "the pixel grid of a frame size, computed once instead of per "
        "pair: the same read-only values either way",
        "line: @functools.cache": "one helper thread kept instead of a new one per call: the same results",
        **dict.fromkeys(
            (
                "< 2+16",
                "< 2-16",
                "< 2*16",
                "< 2/16",
                "< 2//16",
                "< 2%16",
                "< 2>>16",
                "< 2|16",
                "< 2&16",
                "< 2^16",
                "< 2** 15",
                "< 1**16",
                "is 2**16",
            ),
            "a lower cut-over only uses 32-bit labels more often (16-bit ones where fewer than 2^16 hole "
            "pixels are): memory, not results",
        ),
        **dict.fromkeys(
            (
                "inconsistent + ~inside",
                "inconsistent * inside",
                "inconsistent // inside",
                "thresholds) + disoccluded",
                "thresholds) + occluded_pixels(",
                "(map_x >= 0) * (map_x",
                "(map_x <= width - 1) * (map_y",
                "(map_y >= 0) * (map_y",
            ),
            "on bool arrays + is |, * is & and // is & (x // False is 0)",
        ),
        "line: holes = holes.view(np.uint8) if holes.dtype == bool": "both branches give the same 0/1 bytes for "
        "the bool and 0/1 uint8 arrays it is given",
        "line: if cv2.getNumThreads() > 1:": "both branches compute the same union (tested with 1 and 2 threads): "
        "speed, not results",
        "borderValue= 1)": "remap reads the border only for targets outside the frame, which `inside` excludes",
        "borderValue= -1)": "remap reads the border only for targets outside the frame, which `inside` excludes",
        "ThreadPoolExecutor( 2,": "one task at a time is submitted to the helper thread: a second thread stays idle",
        "close_size >= 1": "closing with a 1-px structuring element changes nothing",
        "lru_cache(maxsize= 7)": "how many frame sizes' pixel grids are kept: speed, not results",
        "lru_cache(maxsize= 9)": "how many frame sizes' pixel grids are kept: speed, not results",
        "CLOSE_SIZE, OPEN_SIZE, MIN_AREA = 3, -1, 10": "an opening of 1 px or less is none (open_size > 1)",
        "CLOSE_SIZE, OPEN_SIZE, MIN_AREA = 3, 1, 10": "an opening of 1 px or less is none (open_size > 1)",
        "close_size > 0:": "closing with a 1-px structuring element changes nothing",
        "open_size > 0:": "opening with a 1-px structuring element changes nothing",
        "open_size >= 1": "opening with a 1-px structuring element changes nothing",
    },
    "models/partialconv.py": {
        **dict.fromkeys(
            (
                "if low != first or high < last:",
                "if low != first or high <= last:",
                "if low > first or high != last:",
                "if low >= first or high != last:",
                "if low is not first or high != last:",
                "if low != first or high is not last:",
            ),
            "low = max(first, 0) >= first and high = min(last, height) <= last, and padding by (low - first, "
            "last - high) changes nothing where they are equal: whether the branch is taken never matters",
        ),
        'x.device.type > "cpu" or': "every torch device type but 'cpu' sorts after it ('cuda', 'meta', 'mps', "
        "'xpu', ...): > 'cpu' is != 'cpu'",
        "x.dtype is not torch.float32 or": "torch dtypes are singletons: is not is !=",
        "tuple(dilation) > (1, 1):": "dilations are at least 1: a pair above (1, 1) is one that differs from it",
        **dict.fromkeys(
            (
                "kernel_height = x.shape[+2], weight",
                "kernel_height = x.shape[2], weight",
                "x.shape[-2], weight.shape[+2]",
                "x.shape[-2], weight.shape[2]",
            ),
            "features and weights are 4-D: index 2 is index -2",
        ),
        "line: @staticmethod": "torch.autograd.Function calls forward, backward and symbolic on the class, where "
        "a plain function is called the same way",
        "line: @once_differentiable": "only first derivatives are taken (the loss is differentiated once): "
        "once_differentiable only forbids a second",
        'line: @torch.amp.custom_bwd(device_type="cuda")': "for CUDA's autocast only: nothing changes on the CPU, "
        "and on a GPU the backward casts its operands to the gradient's dtype itself (not measured on a GPU)",
        'hasattr(torch.ops.aten, "_slow_conv2d_forward") or hasattr': "both operators exist in every torch this "
        "toolkit installs, or neither: and and or agree",
        "diff: +    if not im2col:\n         size += size": "the estimate that decides banding: memory, not results",
        "if self.groups > 1:": "nn.Conv2d's groups are at least 1: > 1 is != 1",
        "if mask.shape[1] != 1 else": "a mask has at least one channel: != 1 is > 1",
        "x.dtype is torch.float64": "torch dtypes are singletons: is is ==",
        "(window_valid != 0).to(count_dtype)": "window counts are never negative: != 0 is > 0",
        "torch.clamp(window_valid, -1, 1)": "window counts are never negative: clamping at -1 or 0 is the same",
        "clamp(min=1.0) ** updated_mask": "where the updated mask is 0 the window holds no valid input, so "
        "conv(X * M) is 0 there whatever the ratio (x ** 0 = 1); where it is 1, x ** 1 = x",
        "ratio = ratio ** updated": "the reference: the same as ratio ** updated_mask above",
        "(window_valid - 1e-8)": "the reference's epsilon: +-1e-8 on a count of at least 1 moves the ratio by "
        "1e-8 relative, below every float32 tolerance; where the count is 0 the output is 0 whatever the ratio",
        "weight.shape[2:]": "a weight is 4-D: [2:] is [-2:]",
        "mask.shape[2:] != x.shape[-2:]": "features and masks are 4-D: [2:] is [-2:]",
        "mask.shape[+2:] != x.shape[-2:]": "features and masks are 4-D: [+2:] is [-2:]",
        "mask.shape[-2:] != x.shape[2:]": "features and masks are 4-D: [2:] is [-2:]",
        "mask.shape[-2:] != x.shape[+2:]": "features and masks are 4-D: [+2:] is [-2:]",
        "weight.shape[+2:]": "a weight is 4-D: [+2:] is [-2:]",
        "[need_x, need_weight, True]": "asks ATen for a bias gradient too, which is not used (the function "
        "computes its own, masked): the gradients are the same",
        "if need_bias or ctx.has_bias:": "a gradient for a frozen bias is returned and discarded by autograd",
        "(self.band_bytes and {}).get": "never banded: memory, not results (banded and whole forwards are equal, "
        "test_banded_forward_equals_the_whole_one)",
        "line: BAND_BYTES = {": "the band size: memory, not results (any band size gives the same output, "
        "test_banded_forward_equals_the_whole_one)",
        "line: size = x.numel() * x.element_size()": "the estimate that decides banding: memory, not results",
        "line: size += size * weight.shape[-2]": "the estimate that decides banding: memory, not results",
        "line: if band_bytes is None or size <= band_bytes": "whether to band: memory, not results",
        "line: rows = math.ceil(out_height / math.ceil(size / band_bytes))": "rows per band: any positive "
        "count gives the same output (a count of 0 stops the loop with an error, which a test catches)",
        "line: unfolded = x.numel() * weight.shape[-2]": "which of two exact convolutions runs (im2col or "
        "oneDNN) for a layer both can run: speed and memory, not results (test_deep_layers_on_the_im2col_path)",
        "line: return unfolded < weight.numel()": "which of two exact convolutions runs: speed and memory",
    },
    "models/unet.py": {
        "else (0.5 % self.mean) / self.std": "0.5 % m is 0.5 - m for the ImageNet means, all between 0.25 and 0.5",
        "(mask == 0) * (count > 0)": "on bool tensors * is &",
        "fill = (mask <= 0) & (count": "masks are 0/1: no value is below 0",
        "& (count != 0)": "a count of valid pixels is never negative: != 0 is > 0",
        "mask = (count != 0).to(mask.dtype)": "a 3x3 mean of a 0/1 mask is never negative: != 0 is > 0",
        "total / count.clamp(min= 0)": "where a pixel is filled its count is at least 1; elsewhere the quotient "
        "is not taken (torch.where), and no gradient flows into the image skip",
        "kernel // 2, bias=level <= 1)": "encoder levels start at 1: <= 1 is == 1",
        "last = level <= 0": "decoder levels end at 0: <= 0 is == 0",
        "batchnorm=level != 1,": "encoder levels start at 1: != 1 is > 1",
        'hole_value >= "imagenet_mean" else': "the placeholders are 'imagenet_mean' and '127.5': only the first "
        "sorts at or after 'imagenet_mean'",
        **dict.fromkeys(
            (
                "image.shape[+2] % self.stride",
                "image.shape[2] % self.stride",
                "got {tuple(image.shape[+2:])}",
                "got {tuple(image.shape[2:])}",
            ),
            "images are 4-D (N, 3, H, W): index 2 is -2",
        ),
    },
    "models/preprocess.py": {
        "!= valid_mask.shape[: 3]:": "masks are 2-D (H, W): [:3] is [:2]",
    },
    "maskgen/bins.py": {
        **dict.fromkeys(
            (
                "ratios[0] <= BIN_EDGES[+1]",
                "ratios[0] <= BIN_EDGES[~1]",
                "ratios[0] <= BIN_EDGES[not 1]",
                "ratios[0] <= BIN_EDGES[1]",
                "ratios[0] <= BIN_EDGES[- 2]",
                "ratios[0] <= BIN_EDGES[- 0]",
                "ratios[0] < BIN_EDGES[-1]",
            ),
            "the clause decides only for a single mask outside every bin, whose ratio is at most 0.01 or above "
            "0.6: any threshold from 0.01 to 0.6 (and < or <=) gives the same",
        ),
        "(ratios.size <= 1 and ratios[0]": "an empty set returned before: <= 1 is == 1",
        "if ratios.size <= 0 or": "a size is never negative",
        "ratios[ -1] <= BIN_EDGES[-1]": "a single ratio: [-1] is [0]",
        "(1 % BIN_EDGES[-2] ** 0.5)": "1 % sqrt(0.5) is 1 - sqrt(0.5) (sqrt(0.5) is between 0.5 and 1)",
        "int(2 * margin // (1 - BIN_EDGES": "int() of a positive quotient is its floor: // changes nothing",
        "if interior < BIN_EDGES[-2]:": "(size - 2 margin)^2 / size^2 is never exactly 0.5 (sqrt 2 is irrational)",
        "(ratios > low) * (ratios <= high)": "on bool arrays * is &",
        "(ratios > low) // (ratios <= high)": "on bool arrays // is & (x // False is 0)",
        "np.asarray(valid_mask) <= 0": "masks are uint8 0/1 (images.read_mask's rule): no value is below 0",
        "rows.size <= 0": "a size is never negative",
        "if ratios.size != 1 else": "differs from > 1 only for an empty set, which returned before",
    },
    "models/loss.py": {
        "if self.feature_scale > 1.0 else x)": "the feature scale is PIXEL_LEVEL_SCALE (about 57) or 1.0: above 1 "
        "is other than 1",
        **dict.fromkeys(
            (
                "if self.feature_scale >= 1.0 else x)",
                "if self.feature_scale != 2.0 else x)",
                "if self.feature_scale != 0.0 else x)",
            ),
            "the feature scale is PIXEL_LEVEL_SCALE (about 57) or 1.0: these always divide, and dividing by 1.0 "
            "is exact (the same features, one copy more)",
        ),
        "if first >= PIXEL_LEVEL_FIRST_LAYER else": "the two kinds of first layer lie far from 1 on either side "
        "(torchvision's mean |weight| about 0.2, pixel-level networks' tens): none is exactly 1",
        "stride=1, padding=1) != 0)": "the holes are 0/1: their max-pooling is never negative, so != 0 is > 0",
        "PIXEL_LEVEL_FIRST_LAYER = 2.0": "the threshold between torchvision's first layers (mean |weight| about "
        "0.2) and converted pixel-level ones (about 11): 1 and 2 tell the same files apart",
        **dict.fromkeys(
            ("splitlines()[0][: 201]}", "splitlines()[0][: 199]}"),
            "an error message cut at 200 characters or one more or less: its wording, not a result",
        ),
    },
    "benchmark/metrics.py": {
        "holes = (np.asarray(valid_mask) <= 0)": "masks are uint8 0/1 (images.read_mask's rule): no value is below 0",
        "splitlines()[0][: 199]}": "an error message cut at 200 characters or 199: its wording, not a result",
        "splitlines()[ -1][:200]}": "which line of the loader's error the one-line message quotes: its wording",
        "splitlines()[0][: 201]}": "an error message cut at 200 characters or 201: its wording, not a result",
        'return float("inf") if mse <= 0 else': "a mean of squares is never negative",
        'return cropped if border <= "crop" else full': "the border is checked to be 'crop' or 'include' just "
        "before: only 'crop' sorts at or before 'crop'",
        **dict.fromkeys(
            ("if mu_xy.ndim >= 3 else 1", "if x.ndim >= 3 else 1)"),
            "images are (H, W) or (H, W, 3): at least 3 dimensions is 3",
        ),
        "rows, cols = np.nonzero(np.asarray(valid_mask) <= 0)": "masks are uint8 0/1 (images.read_mask's rule): "
        "no value is below 0",
        "if rows.size <= 0:": "a size is never negative",
        "inception_v3(weights=None, aux_logits=True, init_weights=True)": "every weight is then loaded from the "
        "file (strictly): the initial values are all overwritten",
        "@dataclass(frozen=False)": "a Metric is never changed after it is made: frozen only guards that",
        "marginal = part.mean(axis=0, keepdims=False)": "a (classes,) row broadcasts against (images, classes) "
        "as a (1, classes) one does",
    },
    "benchmark/results.py": {
        **dict.fromkeys(
            tuple(f'data[: data.rfind(b"\\n") {end}]' for end in ("** 1", "| 1", "+ 0", "* 1", "// 1")),
            "the rows end at the last line end either way (csv reads a last row without its line end); only a "
            "file with no line end at all (a torn header) differs, and it is refused either way",
        ),
        "if version is not RESULTS_FORMAT:": "format versions are small ints, of which CPython keeps one object each",
        "if version <= 0:": "a format version is never negative",
        "if version < RESULTS_FORMAT:": "a newer format than this pconvkit's is refused when the header is read: "
        "other than the current version is below it",
        'r["hole_white"] >= "1",': "pairing.csv's hole_white is written as 0 or 1 (pairing_text): only '1' sorts "
        "at or after '1'",
        'r["hole_white"] is "1",': "CPython keeps one object of each one-character string: a '1' read from the file "
        "is the literal '1' itself",
        '{"method", "mask", "image"} < set(fieldnames)': "a header of exactly these three columns gets the other "
        "of the two refusals: the wording of its error",
        "json.dumps(record, indent= 2,": "JSON's indentation: the same settings for every reader",
        "json.dumps(record, indent=1, sort_keys=False)": "JSON's key order (the settings' own, fixed by the code "
        "that passes them): the same settings for every reader, the same bytes for the same run",
        'if data or not data.endswith(b"\\n"):': "a whole file is then rewritten as itself (up to its last line "
        "end, which is its end)",
        "json.dumps(record, indent= 0,": "JSON's indentation: the same settings for every reader",
        "splitlines()[0][: 79]}": "an error message cut at 80 characters or 79: its wording, not a result",
        "splitlines()[0][: 81]}": "an error message cut at 80 characters or 81: its wording, not a result",
        "except (OSError, CosmicRayTestingException, ValueError)": "UnicodeDecodeError is a ValueError",
        "splitlines()[ -1][:80]}": "which line of the JSON error the one-line message quotes: its wording",
        "return RESULTS_FILE if count <= 1 else": "a shard count is at least 1 (--shard I/N refuses others): at "
        "most 1 is 1",
        'if rows and "threshold" not in rows[ -1]:': "every row of a CSV file has the header's keys: the last "
        "row's are the first's",
    },
}
WORK = REPOSITORY / ".mutation"
REPORT = REPOSITORY / "docs" / "mutation.md"
OUTCOMES = REPOSITORY / "docs" / "mutation.json"


def _name(module: str) -> str:
    return module.replace("/", "_").removesuffix(".py")


def _record(module: str, outcome: dict) -> None:
    """Write one module's outcome into docs/mutation.json and redraw the report, under a lock: runs
    of other modules side by side may be writing theirs."""
    with open(WORK / "outcomes.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        outcomes = json.loads(OUTCOMES.read_text()) if OUTCOMES.exists() else {}
        outcomes[module] = outcome
        OUTCOMES.write_text(json.dumps(outcomes, indent=1, sort_keys=True) + "\n")
        REPORT.write_text(_report(outcomes))


def _test_command(module: str, copy: Path) -> str:
    """The shell command that runs a module's tests against the copy: from the copy, with the copy
    first on the path, so that its pconvkit is the one mutated."""
    tests = " ".join(str(REPOSITORY / t) for t in MODULES[module])
    return (
        f"env PYTHONPATH={copy} {sys.executable} -m pytest -x -q -p no:cacheprovider -m 'not browser' "
        f"--rootdir {REPOSITORY} -c {REPOSITORY / 'setup.cfg'} {tests}"
    )


def _session(module: str, copy: Path) -> Path:
    """Run (or resume) the module's cosmic-ray session in the copy; returns the session file."""
    name = _name(module)
    session, config = WORK / f"{name}.sqlite", WORK / f"{name}.toml"
    command = _test_command(module, copy)
    target = copy / PARTS[module.split("/")[0]] / module.split("/", 1)[1]
    config.write_text(
        "[cosmic-ray]\n"
        f"module-path = {json.dumps(str(target))}\n"
        "timeout = 90.0\nexcluded-modules = []\n"  # 3x the slowest tests (loss, 30 s): an endless loop is a kill
        f"test-command = {json.dumps(command)}\n\n"
        '[cosmic-ray.distributor]\nname = "local"\n'
    )
    cosmic_ray = Path(sys.executable).with_name("cosmic-ray")
    if not session.exists():
        subprocess.run([cosmic_ray, "init", config, session], check=True, cwd=copy)
        if module in SCOPE:
            lines = target.read_text().splitlines()
            first = next(n for n, line in enumerate(lines, 1) if SCOPE[module] in line)
            scope = f'{json.dumps(str(target))} = "{first}-{len(lines)}"'
            with config.open("a") as toml:
                toml.write(f"[cosmic-ray.filters.line-filter.lines]\n{scope}\n")
            subprocess.run([cosmic_ray.with_name("cr-filter-lines"), "--config", config, session], check=True, cwd=copy)
    subprocess.run([cosmic_ray, "exec", config, session], check=True, cwd=copy)
    return session


def _results(session: Path, copy: Path) -> tuple[int, int, list[str]]:
    """(mutants, killed, the survivors' diffs) of a finished session."""
    dump = subprocess.run(
        [Path(sys.executable).with_name("cosmic-ray"), "dump", session], capture_output=True, text=True, check=True
    ).stdout
    total, killed, survivors = 0, 0, []
    for line in dump.splitlines():
        work, result = json.loads(line)
        if not result or result.get("worker_outcome") == "skipped":  # outside the module's SCOPE
            continue
        total += 1
        if result.get("test_outcome") == "killed" or result.get("worker_outcome") == "timeout":
            killed += 1
        else:
            survivors.append(result.get("diff", "").replace(str(copy) + "/", ""))
    return total, killed, survivors


def _equivalence(module: str, diff: str) -> str | None:
    """The reason a survivor cannot change a result, if EQUIVALENT names it: by a text of its mutated
    line, ("line: TEXT") by a text of the original line, for a line that any mutation leaves the
    results of alone, or ("diff: TEXT") by a text of the diff, for a line told apart by its context."""
    added = [line for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    removed = [line for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    for text, reason in EQUIVALENT.get(module, {}).items():
        if text.startswith("diff: "):  # a text of the diff itself, its context lines included
            if text[len("diff: ") :] in diff:
                return reason
            continue
        lines, needle = (removed, text[len("line: ") :]) if text.startswith("line: ") else (added, text)
        if any(needle in line for line in lines):
            return reason
    return None


def _report(outcomes: dict) -> str:
    """docs/mutation.md from the outcomes of every module run so far, in MODULES' order."""
    lines = ["# Mutation testing", "", "`make mutation` (cosmic-ray on a scratch copy); per module:", ""]
    lines += ["Score: killed / (mutants - equivalent); an accepted survivor counts against it.", ""]
    lines += ["| module | mutants | killed | equivalent | surviving | score |", "|---|---:|---:|---:|---:|---:|"]
    details = []
    for module in [m for m in MODULES if m in outcomes]:
        total, killed, survivors = (outcomes[module][k] for k in ("mutants", "killed", "survivors"))
        reasons = [_equivalence(module, diff) for diff in survivors]
        equivalent = sum(reason is not None and not reason.startswith(ACCEPTED) for reason in reasons)
        counted = total - equivalent
        score = f"{killed / counted:.1%}" if counted else ""
        lines.append(f"| `{module}` | {total} | {killed} | {equivalent} | {counted - killed} | {score} |")
        if survivors:
            details += [f"## Surviving mutants of `{module}`", ""]
        for diff, reason in zip(survivors, reasons):
            if reason is None:
                verdict = "Not killed yet."
            elif reason.startswith(ACCEPTED):
                verdict = "Not equivalent, accepted: " + reason[len(ACCEPTED) :]
            else:
                verdict = "Equivalent: " + reason
            details += [verdict, "", f"```diff\n{diff.strip()}\n```", ""]
    return "\n".join(lines + [""] + details) + "\n"


def _retest_survivors(module: str, outcome: dict) -> dict:
    """The outcome with the survivors that today's tests kill moved to the killed count."""
    alive, gone = [], 0
    with tempfile.TemporaryDirectory() as scratch:
        copy = scratch_copy(Path(scratch))
        for number, diff in enumerate(outcome["survivors"], 1):
            if _equivalence(module, diff) is not None:  # named, with its reason: nothing to kill
                alive.append(diff)
                continue
            patch = (diff.split("\n", 1)[1] if diff.startswith("--- mutation diff ---") else diff).rstrip("\n") + "\n"
            dry_run = ["patch", "-s", "--dry-run", "-p1", "-d", str(copy)]
            if subprocess.run(dry_run, input=patch, text=True, capture_output=True).returncode != 0:
                gone += 1  # the code it mutated is no longer there (removed, or rewritten)
                print(f"{module}: survivor {number}/{len(outcome['survivors'])} no longer applies")
                continue
            subprocess.run(["patch", "-s", "-p1", "-d", str(copy)], input=patch, text=True, check=True)
            survived = _run_tests(copy, MODULES[module]).returncode == 0
            subprocess.run(["patch", "-s", "-R", "-p1", "-d", str(copy)], input=patch, text=True, check=True)
            if survived:
                alive.append(diff)
            print(f"{module}: survivor {number}/{len(outcome['survivors'])} {'survives' if survived else 'killed'}")
    killed = outcome["killed"] + len(outcome["survivors"]) - len(alive) - gone
    return dict(outcome, mutants=outcome["mutants"] - gone, killed=killed, survivors=alive)


def _same_source(module: str) -> None:
    """A session resumes only for the code it was made from: its module's hash is kept beside it."""
    name = _name(module)
    digest = hashlib.sha256((REPOSITORY / module).read_bytes()).hexdigest()
    kept = WORK / f"{name}.source"
    if (WORK / f"{name}.sqlite").exists() and kept.exists() and kept.read_text() != digest:
        raise SystemExit(
            f"Error: {module} has changed since its mutation session began: delete .mutation/{name}.* to mutate it "
            "again"
        )
    kept.write_text(digest)


@contextlib.contextmanager
def _only_run_of(module: str):
    """One run of a module at a time: a second one would mutate the same scratch copy and session."""
    with open(WORK / f"{_name(module)}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SystemExit(f"Error: {module} is being mutated by another run; wait for it to end") from None
        yield


def main(modules) -> int:
    retest = modules[:1] == ["--survivors"]
    modules = modules[1:] if retest else modules
    recorded = json.loads(OUTCOMES.read_text()) if OUTCOMES.exists() else {}
    unknown = [m for m in modules if m not in (recorded if retest else MODULES)]
    if unknown:
        what = "a module with recorded survivors" if retest else "a module of the mutation run"
        print(f"Error: not {what}: {', '.join(unknown)} (see MODULES and docs/mutation.json)", file=sys.stderr)
        return 2
    WORK.mkdir(exist_ok=True)
    for module in modules:
        with _only_run_of(module):
            if retest:
                _record(module, _retest_survivors(module, json.loads(OUTCOMES.read_text())[module]))
                continue
            _same_source(module)
            # one copy of the library per module, so that runs of different modules side by side (one
            # per core) never import each other's mutants; made afresh at every start, because a run
            # stopped in the middle of a mutant leaves that mutant written in the copy's file
            copy = WORK / ("copy_" + _name(module))
            if copy.exists():
                shutil.rmtree(copy)
            scratch_copy(copy)
            # the session's own command, from the copy, as cosmic-ray runs it for each mutant
            baseline = subprocess.run(_test_command(module, copy), shell=True, cwd=copy, capture_output=True, text=True)
            if baseline.returncode != 0:  # every mutant would count as killed
                tail = (baseline.stdout + baseline.stderr).strip().splitlines()[-1:]
                raise SystemExit(f"Error: the tests of {module} fail on its unmutated code: {' '.join(tail)}")
            total, killed, survivors = _results(_session(module, copy), copy)
            _record(module, dict(mutants=total, killed=killed, survivors=survivors))
    print(REPORT.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or list(MODULES)))
