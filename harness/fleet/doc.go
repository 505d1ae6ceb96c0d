// Package fleet runs the matrix on the nodes of a Slurm cluster and merges
// what they wrote. The lab never schedules machines itself: it builds its
// binaries once on the submitting machine, writes one sbatch script per
// hardware class (a job array, one task per shard, each on a whole node of
// the class), hands them to sbatch, and later reads back the run
// directories the tasks wrote on the shared file system.
//
// A submission lives in <results>/.fleet/<id>/ (the report skips dot
// directories):
//
//	submission.json       what was submitted: classes, shards, cells, jobs
//	bin/                  lab, the benchmark binary and build.json
//	experiments.toml      the matrix, as submitted
//	<hardware>.sbatch     each class's script
//	cells-<hardware>.txt  the cells a resume runs (lab run --cells)
//	parts/<hardware>/     the tasks' run directories
//	logs/                 the tasks' output (sbatch --output)
//
// lab fleet collect merges a class's parts into <results>/<hardware>/<id>,
// a run like any other. Slurm commands (sbatch, squeue, sacct, sinfo) are
// run through a Slurm value, so tests can stand in for them.
//
// Linux only, as the lab is.
package fleet
