/* replay_walk.h - the directory walker the replay drivers (replay.c, replay_file.c) share: calls
 * run() on every file under each path given, in name order, skipping dot files. */
#ifndef VPNSCOPE_REPLAY_WALK_H
#define VPNSCOPE_REPLAY_WALK_H

/* Walks `path` (a file or a directory tree). Returns 0 when every file ran (run() returned 0),
 * -1 when a path could not be read or a run failed; `who` prefixes the error line on stderr. */
int replay_walk(const char *path, int (*run)(const char *file), const char *who);

#endif
