/* pcap_floor: the floor for any libpcap-based reader: open each file, pcap_next_ex over every
 * packet, count packets and bytes. Usage: pcap_floor FILE... */
#define _DEFAULT_SOURCE /* libpcap headers need u_char/u_int under -std=c11 */
#include <pcap/pcap.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    unsigned long long pkts = 0, bytes = 0;
    char err[PCAP_ERRBUF_SIZE];
    if (argc < 2) {
        fprintf(stderr, "usage: pcap_floor FILE...\n");
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        pcap_t *p = pcap_open_offline(argv[i], err);
        if (!p) {
            fprintf(stderr, "pcap_floor: %s\n", err);
            return 2;
        }
        struct pcap_pkthdr *h;
        const unsigned char *d;
        int rc;
        unsigned long long sum = 0;
        while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
            pkts++;
            bytes += h->caplen;
            sum += d[h->caplen - 1];
        }
        if (rc == PCAP_ERROR) {
            fprintf(stderr, "pcap_floor: %s: %s\n", argv[i], pcap_geterr(p));
            return 2;
        }
        pcap_close(p);
        if (sum == 42)
            fputc(' ', stderr); /* keep the byte reads */
    }
    printf("%llu packets %llu bytes\n", pkts, bytes);
    return 0;
}
