/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The rule author's commands, without root or BPF (contract section 10):
 *   procmon --check-rules PATH...
 *   procmon --replay FILE.jsonl --rules PATH...
 */
#ifndef PROCMON_RULES_CLI_H
#define PROCMON_RULES_CLI_H

/* When argv asks for one of them: run it and return the exit status;
 * otherwise -1 (the daemon's command line). */
int pm_sigma_cli(int argc, char **argv);

#endif
