/* replay_file.c - runs the file-level fuzz target (fuzz_file.c) over every file under the given
 * directories or files, each whole file one input, so CI exercises it without libFuzzer.
 * Usage: replay_file DIR_OR_FILE... */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay_walk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_MAX_INPUT (4u << 20)

static unsigned long inputs;

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    uint8_t *b = malloc(REPLAY_MAX_INPUT);
    if (!b) {
        fclose(f);
        return -1;
    }
    size_t n = fread(b, 1, REPLAY_MAX_INPUT, f);
    fclose(f);
    LLVMFuzzerTestOneInput(b, n);
    /* and every prefix cut at a few places: the truncation paths */
    for (size_t k = 1; k <= 8 && n > 0; k++)
        LLVMFuzzerTestOneInput(b, n * k / 9);
    free(b);
    inputs += 9;
    return 0;
}

int main(int argc, char **argv)
{
    int rc = 0;
    for (int i = 1; i < argc; i++)
        if (replay_walk(argv[i], run_file, "replay_file") != 0)
            rc = 1;
    printf("%lu inputs replayed\n", inputs);
    return rc != 0 || inputs == 0;
}
