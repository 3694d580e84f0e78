/* test_format.c - the protocol names records carry (rep_proto_name over ip_proto_name) and the
 * one address comparison (ip_addr_eq). */
#include <stdint.h>
#include <string.h>

#include "../../src/report/report_int.h"
#include "t.h"
#include "vpnscope/proto.h"

static const char *pn(uint8_t proto)
{
    static char buf[16];
    return rep_proto_name(proto, buf, sizeof(buf));
}

static void test_proto_names(void)
{
    CHECK_STR(pn(IPP_UDP), "udp");
    CHECK_STR(pn(IPP_TCP), "tcp");
    CHECK_STR(pn(IPP_GRE), "gre");
    CHECK_STR(pn(IPP_ESP), "esp");
    CHECK_STR(pn(IPP_AH), "ah");
    /* records name the ICMP family "icmp" for both IP versions; the table itself tells them
     * apart */
    CHECK_STR(pn(IPP_ICMP), "icmp");
    CHECK_STR(pn(IPP_ICMPV6), "icmp");
    CHECK_STR(ip_proto_name(IPP_ICMPV6), "icmpv6");
    CHECK_STR(pn(IPP_IPIP), "ipip");
    CHECK_STR(pn(IPP_IPV6), "ipv6");
    CHECK_STR(pn(IPP_L2TPV3), "l2tpv3");
    /* no name: the number */
    CHECK_STR(pn(0), "0");
    CHECK_STR(pn(132), "132");
    CHECK_STR(pn(255), "255");
    CHECK(ip_proto_name(132) == NULL);
    /* a short buffer truncates, never overflows */
    char small[3];
    memset(small, 'x', sizeof(small));
    CHECK_STR(rep_proto_name(IPP_L2TPV3, small, sizeof(small)), "l2");
}

static void test_addr_eq(void)
{
    struct ip_addr a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0xee, sizeof(b)); /* unused bytes differ */
    a.v = b.v = 4;
    const uint8_t v4[4] = {192, 0, 2, 1};
    memcpy(a.a, v4, 4);
    memcpy(b.a, v4, 4);
    CHECK(ip_addr_eq(&a, &b));
    b.a[3] = 2;
    CHECK(!ip_addr_eq(&a, &b));
    /* same bytes, other family */
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    a.v = 4;
    b.v = 6;
    CHECK(!ip_addr_eq(&a, &b));
    /* IPv6: all 16 bytes count */
    a.v = 6;
    a.a[15] = 1;
    b.a[15] = 1;
    CHECK(ip_addr_eq(&a, &b));
    b.a[0] = 0x20;
    CHECK(!ip_addr_eq(&a, &b));
}

/* SPIs as the report writes them ("%016llx", "0x%08x", formatted by hand) */
static void test_spi(void)
{
    char b[24];
    CHECK_STR(rep_ike_spi(0x0123456789abcdefull, b, sizeof(b)), "0123456789abcdef");
    CHECK_STR(rep_ike_spi(0x2a, b, sizeof(b)), "000000000000002a");
    CHECK_STR(rep_ipsec_spi(0xdeadbeef, b, sizeof(b)), "0xdeadbeef");
    CHECK_STR(rep_ipsec_spi(7, b, sizeof(b)), "0x00000007");
    CHECK_STR(rep_ipsec_spi(0xdeadbeef, b, 5), "0xde"); /* cut as snprintf cuts */
}

int main(void)
{
    test_spi();
    test_proto_names();
    test_addr_eq();
    return t_done();
}
