"""What an experiment is, as a spec and a run folder say it: the spec, its data sources, the run
folder's layout and its models' names. Torch-free and below `lab/` (which trains and runs it), so
the analysis, the report and the probes read run folders without reaching up into the lab."""
