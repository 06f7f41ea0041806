"""One job of a spec as a module entry point, so multi-GPU launchers can start it.

    accelerate launch --num_processes 8 -m crosstune.lab.launch paper.toml --job JOB_ID
    torchrun --nproc-per-node 8 -m crosstune.lab.launch paper.toml --job JOB_ID

Every process trains (the Trainer runs them data-parallel); only rank 0 writes the job folder.
`crosstune run SPEC --dry-run` lists the job ids; `crosstune run SPEC` afterwards evaluates
the finished jobs and trains none of them again.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

from crosstune.errors import CrosstuneError
from crosstune.experiment.run_folder import RunFolder
from crosstune.experiment.spec import JobSpec, jobs, load_spec
from crosstune.lab.job import _train, run_job


def find_job(spec_file: Path, job_id: str) -> JobSpec:
    """The job of `spec_file` with this id (a prefix is enough when it is unique)."""
    matches = [j for j in jobs(load_spec(spec_file)) if j.job_id.startswith(job_id)]
    if len(matches) != 1:
        known = ", ".join(j.job_id for j in jobs(load_spec(spec_file)))
        raise CrosstuneError(f"job id {job_id!r} matches {len(matches)} jobs of {spec_file}; "
                             f"its jobs are: {known}")
    return matches[0]


def launch(spec_file: Path, job_id: str, out: Path) -> Path | None:
    """Run the job in this process; the job folder on rank 0, nothing written elsewhere."""
    job = find_job(spec_file, job_id)
    run_dir = out / load_spec(spec_file).name
    if RunFolder(run_dir).read_job(job).status is not None:
        return None
    if int(os.environ.get("RANK", "0")) == 0:
        return run_job(job, run_dir)
    scratch = Path(tempfile.mkdtemp(prefix=f"crosstune-rank{os.environ['RANK']}-"))
    try:
        _train(job, scratch, None)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m crosstune.lab.launch", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("spec", type=Path, help="experiment TOML")
    parser.add_argument("--job", required=True, help="job id (see crosstune run SPEC --dry-run)")
    parser.add_argument("--out", type=Path, default=Path("runs"), help="parent of the run folder")
    args = parser.parse_args(argv)
    try:
        launch(args.spec, args.job, args.out)
    except CrosstuneError as err:
        parser.exit(2, f"error: {err}\n")


if __name__ == "__main__":
    main()
