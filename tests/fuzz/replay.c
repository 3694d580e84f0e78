/* replay.c - runs LLVMFuzzerTestOneInput over corpus files and over every packet of the pcaps
 * given (one input per packet, prefixed with the DLT selector), so CI exercises the fuzz target
 * without libFuzzer. Usage: replay DIR_OR_FILE... (pcap files are expanded to their packets). */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay_walk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int dlts[] = {1, 113, 276, 12, 228, 229, 0, 108, 101, 14};
static unsigned long inputs;

static int dlt_selector(int dlt)
{
    for (unsigned i = 0; i < sizeof(dlts) / sizeof(dlts[0]); i++)
        if (dlts[i] == dlt)
            return (int)i;
    return -1;
}

/* All packets of a pcap as one multi-packet input, plus each packet alone. */
static int run_pcap(const char *path)
{
    char eb[PCAP_ERRBUF_SIZE];
    pcap_t *pc = pcap_open_offline(path, eb);
    if (!pc)
        return -1;
    int sel = dlt_selector(pcap_datalink(pc));
    if (sel < 0) {
        pcap_close(pc);
        return 0;
    }
    size_t cap = 1 << 20, n = 1;
    uint8_t *all = malloc(cap);
    if (!all) {
        pcap_close(pc);
        return -1;
    }
    all[0] = (uint8_t)sel;
    struct pcap_pkthdr *h;
    const u_char *d;
    while (pcap_next_ex(pc, &h, &d) == 1) {
        uint32_t len = h->caplen > 65535 ? 65535 : h->caplen;
        uint8_t one[2 + 2 + 65535];
        one[0] = (uint8_t)sel;
        one[1] = (uint8_t)(len >> 8);
        one[2] = (uint8_t)len;
        memcpy(one + 3, d, len);
        LLVMFuzzerTestOneInput(one, 3 + len);
        inputs++;
        if (n + 2 + len <= cap) {
            all[n++] = (uint8_t)(len >> 8);
            all[n++] = (uint8_t)len;
            memcpy(all + n, d, len);
            n += len;
        }
    }
    LLVMFuzzerTestOneInput(all, n);
    inputs++;
    free(all);
    pcap_close(pc);
    return 0;
}

static int run_file(const char *path)
{
    size_t l = strlen(path);
    if ((l > 5 && strcmp(path + l - 5, ".pcap") == 0) ||
        (l > 7 && strcmp(path + l - 7, ".pcapng") == 0) ||
        (l > 4 && strcmp(path + l - 4, ".cap") == 0))
        return run_pcap(path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    uint8_t *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, 1 << 20, f) : 0;
    fclose(f);
    if (!buf)
        return -1;
    LLVMFuzzerTestOneInput(buf, n);
    inputs++;
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    int rc = 0;
    for (int i = 1; i < argc; i++)
        if (replay_walk(argv[i], run_file, "replay") != 0)
            rc = 1;
    printf("replay: %lu inputs ran without a crash\n", inputs);
    printf("%d passed, %d failed\n", rc ? 0 : 1, rc ? 1 : 0);
    return rc || inputs == 0;
}
