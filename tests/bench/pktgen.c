/* pktgen: replays the frames of a capture onto an interface from an AF_PACKET raw socket, faster
 * than tcpreplay (sendmmsg in batches, PACKET_QDISC_BYPASS), in a loop, at a given rate, at the
 * capture's own timing or flat out; reports the packets sent and the rate achieved.
 *
 *   pktgen -i IF -r FILE [-n PACKETS] [-t SECONDS] [-p PPS | -x MULT] [-b BATCH] [--qdisc] [-q]
 *
 *   -i IF        interface to send on (for the lab: a veth end inside a network namespace)
 *   -r FILE      pcap or pcapng capture (Ethernet); its frames are loaded into memory once
 *   -n PACKETS   packets to send, looping over the file (default: the file once; 0 = no limit)
 *   -t SECONDS   stop after this long (default: no limit)
 *   -p PPS       packets per second, evenly spaced (default 0: as fast as the socket takes them)
 *   -x MULT      the capture's own timing, MULT times faster (1 = as captured)
 *   -b BATCH     frames per sendmmsg call at most (default 64)
 *   --qdisc      through the interface's queueing discipline (default: PACKET_QDISC_BYPASS)
 *   -q           only the result line
 *
 * The result line on stdout (for scripts):
 *   sent=N bytes=B seconds=S pps=R retries=E skipped=K
 * sent: frames the socket accepted; retries: sends that got ENOBUFS/EAGAIN and were repeated;
 * skipped: frames of the file never sent (shorter than an Ethernet header or longer than the
 * interface's MTU allows). Exit status 0 when every requested frame was sent, 1 otherwise, 2 on
 * usage or setup errors. Needs CAP_NET_RAW.
 *
 * Pacing sleeps until the next frame is due, but at least 100 us after the last send
 * (clock_nanosleep on CLOCK_MONOTONIC, 1 us timer slack), then sends every frame due by now in
 * one call: above 10,000 frames/s they leave in bursts (at most BATCH a call), on average at the
 * rate asked. The sender never spins, so it leaves the other core to the
 * capture.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_BATCH 1024
#define MAX_FRAMES (64u << 20)       /* frames loaded at most */
#define MAX_BYTES ((size_t)2u << 30) /* bytes loaded at most */
#define MAX_RETRIES_IN_A_ROW 100000u /* ENOBUFS without progress: give up */
#define PACE_QUANTUM 100e-6          /* paced: at most one wake-up per 100 us */

struct frame {
    size_t off;
    uint32_t len;
    uint64_t ts_us; /* from the first frame */
};

struct frames {
    uint8_t *buf;
    size_t used, cap;
    struct frame *f;
    size_t n, fcap;
    uint64_t span_us; /* first to last frame, plus one mean gap (one loop of the file) */
    uint64_t skipped;
};

static volatile sig_atomic_t g_stop;

static void on_stop(int sig)
{
    (void)sig;
    g_stop = 1;
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_until(double t)
{
    struct timespec ts;
    ts.tv_sec = (time_t)t;
    ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L)
        ts.tv_nsec = 999999999L;
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR && !g_stop)
        ;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap : 4096;
    while (nc < need)
        nc *= 2;
    void *q = realloc(*p, nc * elem);
    if (!q)
        return -1;
    *p = q;
    *cap = nc;
    return 0;
}

/* Loads the frames of FILE that fit an Ethernet interface of MTU mtu. 0 ok, -1 error (printed). */
static int load(const char *path, unsigned mtu, struct frames *fr)
{
    char eb[PCAP_ERRBUF_SIZE];
    pcap_t *pc = pcap_open_offline(path, eb);
    if (!pc) {
        fprintf(stderr, "pktgen: %s\n", eb);
        return -1;
    }
    if (pcap_datalink(pc) != DLT_EN10MB) {
        fprintf(stderr, "pktgen: %s: link type %s, not Ethernet\n", path,
                pcap_datalink_val_to_name(pcap_datalink(pc)));
        pcap_close(pc);
        return -1;
    }
    struct pcap_pkthdr *h;
    const u_char *d;
    uint64_t first = 0, last = 0;
    int rc;
    while ((rc = pcap_next_ex(pc, &h, &d)) == 1) {
        uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
        /* the payload after the Ethernet header, an 802.1Q tag allowed */
        uint32_t room = mtu + ETH_HLEN;
        if (h->caplen >= ETH_HLEN && d[12] == 0x81 && d[13] == 0x00)
            room += 4;
        if (h->caplen < ETH_HLEN || h->caplen > room) {
            fr->skipped++;
            continue;
        }
        if (fr->n >= MAX_FRAMES || fr->used + h->caplen > MAX_BYTES) {
            fprintf(stderr, "pktgen: %s: more than %u frames or %zu bytes: use a smaller file\n",
                    path, MAX_FRAMES, MAX_BYTES);
            pcap_close(pc);
            return -1;
        }
        if (grow((void **)&fr->buf, &fr->cap, fr->used + h->caplen, 1) != 0 ||
            grow((void **)&fr->f, &fr->fcap, fr->n + 1, sizeof(struct frame)) != 0) {
            fprintf(stderr, "pktgen: out of memory\n");
            pcap_close(pc);
            return -1;
        }
        if (fr->n == 0)
            first = ts;
        if (ts < last)
            ts = last; /* the file's timing never runs backwards here */
        last = ts;
        memcpy(fr->buf + fr->used, d, h->caplen);
        fr->f[fr->n].off = fr->used;
        fr->f[fr->n].len = h->caplen;
        fr->f[fr->n].ts_us = ts - first;
        fr->used += h->caplen;
        fr->n++;
    }
    if (rc == PCAP_ERROR)
        fprintf(stderr, "pktgen: %s: %s (sending the frames before it)\n", path, pcap_geterr(pc));
    pcap_close(pc);
    if (fr->n == 0) {
        fprintf(stderr, "pktgen: %s: no frame to send (%llu skipped)\n", path,
                (unsigned long long)fr->skipped);
        return -1;
    }
    fr->span_us = last - first + (fr->n > 1 ? (last - first) / (fr->n - 1) : 1000u);
    return 0;
}

static int open_socket(const char *ifname, bool bypass, unsigned *mtu)
{
    int fd = socket(AF_PACKET, SOCK_RAW, 0); /* protocol 0: sends only, receives nothing */
    if (fd < 0) {
        fprintf(stderr, "pktgen: socket(AF_PACKET): %s\n", strerror(errno));
        return -1;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
    if (ioctl(fd, SIOCGIFINDEX, &ifr) != 0) {
        fprintf(stderr, "pktgen: %s: %s\n", ifname, strerror(errno));
        close(fd);
        return -1;
    }
    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof(sll));
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = ifr.ifr_ifindex;
    sll.sll_protocol = 0;
    if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) != 0) {
        fprintf(stderr, "pktgen: bind %s: %s\n", ifname, strerror(errno));
        close(fd);
        return -1;
    }
    if (ioctl(fd, SIOCGIFMTU, &ifr) != 0) {
        fprintf(stderr, "pktgen: %s: MTU: %s\n", ifname, strerror(errno));
        close(fd);
        return -1;
    }
    *mtu = (unsigned)ifr.ifr_mtu;
    int one = 1;
    if (bypass && setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) != 0)
        fprintf(stderr, "pktgen: PACKET_QDISC_BYPASS: %s (sending through the qdisc)\n",
                strerror(errno));
    int sndbuf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    return fd;
}

struct opts {
    const char *ifname, *path;
    uint64_t count; /* 0 = no limit */
    bool count_given;
    double seconds, pps, mult;
    unsigned batch;
    bool bypass, quiet;
};

static void usage(void)
{
    fputs("usage: pktgen -i IF -r FILE [-n PACKETS] [-t SECONDS] [-p PPS | -x MULT] [-b BATCH] "
          "[--qdisc] [-q]\n",
          stderr);
}

static bool num(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0))
        return false;
    *out = v;
    return true;
}

static int parse(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof(*o));
    o->batch = 64;
    o->bypass = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        double v;
        if (strcmp(a, "--qdisc") == 0) {
            o->bypass = false;
        } else if (strcmp(a, "-q") == 0) {
            o->quiet = true;
        } else if (i + 1 < argc && a[0] == '-' && strchr("irntpxb", a[1]) && a[1] && !a[2]) {
            const char *arg = argv[++i];
            if (a[1] == 'i')
                o->ifname = arg;
            else if (a[1] == 'r')
                o->path = arg;
            else if (!num(arg, &v))
                return -1;
            else if (a[1] == 'n') {
                o->count = (uint64_t)v;
                o->count_given = true;
            } else if (a[1] == 't')
                o->seconds = v;
            else if (a[1] == 'p')
                o->pps = v;
            else if (a[1] == 'x')
                o->mult = v;
            else if (v < 1 || v > MAX_BATCH)
                return -1;
            else
                o->batch = (unsigned)v;
        } else {
            return -1;
        }
    }
    if (!o->ifname || !o->path || (o->pps > 0 && o->mult > 0))
        return -1;
    return 0;
}

/* When frame number k (counted from the start, loops included) is due, in seconds from the start;
 * 0 when frames go out flat out. */
static double due_at(const struct opts *o, const struct frames *fr, uint64_t k)
{
    if (o->pps > 0)
        return (double)k / o->pps;
    if (o->mult > 0) {
        uint64_t loop = k / fr->n;
        const struct frame *f = &fr->f[k % fr->n];
        return ((double)loop * (double)fr->span_us + (double)f->ts_us) / 1e6 / o->mult;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    if (parse(argc, argv, &o) != 0) {
        usage();
        return 2;
    }
    unsigned mtu = 1500;
    int fd = open_socket(o.ifname, o.bypass, &mtu);
    if (fd < 0)
        return 2;
    struct frames fr;
    memset(&fr, 0, sizeof(fr));
    if (load(o.path, mtu, &fr) != 0)
        return 2;
    uint64_t want = o.count_given ? o.count : fr.n; /* 0: no limit */
    prctl(PR_SET_TIMERSLACK, 1000UL);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    static struct mmsghdr msg[MAX_BATCH];
    static struct iovec iov[MAX_BATCH];
    uint64_t sent = 0, bytes = 0, retries = 0, stuck = 0;
    size_t next = 0; /* the file's frame to send next */
    bool paced = o.pps > 0 || o.mult > 0;
    double t0 = mono(), now = t0, last_send = 0;
    while (!g_stop && (want == 0 || sent < want)) {
        now = mono();
        if (o.seconds > 0 && now - t0 >= o.seconds)
            break;
        uint64_t n = o.batch;
        if (want && want - sent < n)
            n = want - sent;
        if (paced) {
            /* the frames due by now, at most a batch; none: sleep until the next is due */
            uint64_t due = 0;
            while (due < n && due_at(&o, &fr, sent + due) <= now - t0)
                due++;
            if (due == 0) {
                /* no sooner than PACE_QUANTUM after the last send: a wake-up per frame would
                 * cost more than the frame at high rates */
                double t = t0 + due_at(&o, &fr, sent);
                if (t < last_send + PACE_QUANTUM)
                    t = last_send + PACE_QUANTUM;
                if (o.seconds > 0 && t > t0 + o.seconds)
                    t = t0 + o.seconds;
                sleep_until(t);
                continue;
            }
            n = due;
        }
        for (uint64_t j = 0; j < n; j++) {
            const struct frame *f = &fr.f[(next + j) % fr.n];
            iov[j].iov_base = fr.buf + f->off;
            iov[j].iov_len = f->len;
            memset(&msg[j], 0, sizeof(msg[j]));
            msg[j].msg_hdr.msg_iov = &iov[j];
            msg[j].msg_hdr.msg_iovlen = 1;
        }
        int r = sendmmsg(fd, msg, (unsigned)n, 0);
        if (r < 0) {
            if ((errno == ENOBUFS || errno == EAGAIN || errno == EINTR) &&
                ++stuck < MAX_RETRIES_IN_A_ROW) {
                retries++;
                sched_yield();
                continue;
            }
            fprintf(stderr, "pktgen: send on %s: %s\n", o.ifname, strerror(errno));
            break;
        }
        stuck = 0;
        last_send = now;
        for (int j = 0; j < r; j++)
            bytes += iov[j].iov_len;
        sent += (uint64_t)r;
        next = (next + (size_t)r) % fr.n;
    }
    double secs = mono() - t0;
    if (!o.quiet)
        fprintf(stderr, "pktgen: %s: %zu frames loaded (%llu skipped), %s, %s\n", o.path, fr.n,
                (unsigned long long)fr.skipped,
                o.pps > 0    ? "paced by rate"
                : o.mult > 0 ? "paced by the file's timing"
                             : "flat out",
                o.bypass ? "qdisc bypassed" : "through the qdisc");
    printf("sent=%llu bytes=%llu seconds=%.6f pps=%.0f retries=%llu skipped=%llu\n",
           (unsigned long long)sent, (unsigned long long)bytes, secs,
           secs > 0 ? (double)sent / secs : 0.0, (unsigned long long)retries,
           (unsigned long long)fr.skipped);
    free(fr.buf);
    free(fr.f);
    close(fd);
    bool short_of = want ? sent < want : false;
    return short_of && !(o.seconds > 0 && !g_stop) ? 1 : 0;
}
