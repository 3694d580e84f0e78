/* cap_read: vpnscope's own capture readers (cap_open_files/cap_next: pcap, pcapng, gzip, zstd,
 * pipes) over every packet, counting packets and bytes as pcap_floor does for libpcap, to compare
 * the two on the same files. Usage: cap_read FILE... ("-" = standard input) */
#include <stdio.h>

#include "vpnscope/capture.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: cap_read FILE...\n");
        return 2;
    }
    unsigned long long pkts = 0, bytes = 0, sum = 0;
    char eb[CAP_ERRMSG_SIZE];
    for (int i = 1; i < argc; i++) {
        const char *p[1] = {argv[i]};
        struct cap_src *s = cap_open_files(p, 1, NULL, eb, sizeof(eb));
        if (!s) {
            fprintf(stderr, "cap_read: %s\n", eb);
            return 2;
        }
        struct raw_pkt r;
        int rc;
        while ((rc = cap_next(s, &r, eb, sizeof(eb))) == 1) {
            pkts++;
            bytes += r.caplen;
            if (r.caplen)
                sum += r.data[r.caplen - 1];
        }
        cap_close(s);
        if (rc != 0) {
            fprintf(stderr, "cap_read: %s\n", eb);
            return 2;
        }
    }
    if (sum == 42)
        fputc(' ', stderr); /* keep the byte reads */
    printf("%llu packets %llu bytes\n", pkts, bytes);
    return 0;
}
