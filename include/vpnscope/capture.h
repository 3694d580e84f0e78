/* capture.h - packet sources: saved captures (pcap/pcapng, several pieces merged by time) and live
 * interfaces, through libpcap. The only module that calls pcap_open_* / pcap_next_ex. */
#ifndef VPNSCOPE_CAPTURE_H
#define VPNSCOPE_CAPTURE_H

#include <stdbool.h>
#include <stdint.h>

/* One captured frame. `data` is valid until the next cap_next() on the same source. */
struct raw_pkt {
    uint64_t ts_us;
    uint32_t caplen, len;
    int dlt;
    const uint8_t *data;
    uint64_t frame; /* 1-based, numbered across the pieces in the order given */
    bool filtered;  /* did not match the BPF expression (still counted) */
    uint32_t ifidx; /* pcapng interface index (0 for pcap files and live) */
};

struct cap_src;

/*
 * Opens n capture files as consecutive pieces of one capture point, merged by timestamp; frames
 * are numbered across the pieces in the order given. `bpf` (may be NULL) filters: non-matching
 * packets are returned with filtered=true. NULL on error with a one-line message in errbuf.
 */
struct cap_src *cap_open_files(const char *const *paths, int n, const char *bpf, char *errbuf,
                               unsigned errlen);

/* Opens a live interface (promiscuous, immediate mode, non-blocking). NULL on error. */
struct cap_src *cap_open_live(const char *ifname, const char *bpf, char *errbuf, unsigned errlen);

/* Next packet: 1 = got one, 0 = end of input, 2 = no packet now (live), -1 = error (errbuf),
 * 3 = the input was cut off mid-record (a warning is in errbuf; treat as end). */
int cap_next(struct cap_src *s, struct raw_pkt *out, char *errbuf, unsigned errlen);

/* Link type of the source (the first piece's; all pieces must agree). */
int cap_dlt(const struct cap_src *s);

/* Selectable fd for poll() (live), -1 otherwise. */
int cap_fd(const struct cap_src *s);

/* Kernel drop counter (live; pcap_stats), 0 otherwise. */
uint64_t cap_kernel_drops(struct cap_src *s);

/* Opens a dump file for -w (live); NULL on error. */
bool cap_dump_open(struct cap_src *s, const char *path, char *errbuf, unsigned errlen);
void cap_dump(struct cap_src *s, const struct raw_pkt *p);

/* Total size in bytes of the input files (for progress), 0 for live. */
uint64_t cap_total_bytes(const struct cap_src *s);
uint64_t cap_bytes_read(const struct cap_src *s);

void cap_close(struct cap_src *s);

#endif
