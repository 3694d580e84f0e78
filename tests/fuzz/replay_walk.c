/* replay_walk.c - see replay_walk.h. Names are sorted so a replay visits inputs in the same order
 * on every file system. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif
#include "replay_walk.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int replay_walk(const char *path, int (*run)(const char *file), const char *who)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "%s: %s: not found\n", who, path);
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return run(path);
    DIR *d = opendir(path);
    if (!d) {
        fprintf(stderr, "%s: %s: cannot open the directory\n", who, path);
        return -1;
    }
    struct dirent *de;
    char **names = NULL;
    size_t nn = 0;
    int rc = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char **nv = realloc(names, sizeof(char *) * (nn + 1));
        char *s = nv ? strdup(de->d_name) : NULL;
        if (nv)
            names = nv;
        if (!s) {
            fprintf(stderr, "%s: %s: out of memory\n", who, path);
            rc = -1;
            break;
        }
        names[nn++] = s;
    }
    closedir(d);
    if (nn > 1)
        qsort(names, nn, sizeof(char *), by_name);
    for (size_t i = 0; i < nn; i++) {
        char p[4096];
        snprintf(p, sizeof(p), "%s/%s", path, names[i]);
        if (replay_walk(p, run, who) != 0)
            rc = -1;
        free(names[i]);
    }
    free(names);
    return rc;
}
