/* natd.c - NAT-D hash recomputation (natd.h) with libgcrypt. */
#include "vpnscope/natd.h"

#include <gcrypt.h>
#include <string.h>

static int md_algo(unsigned len, uint16_t v1_hash, bool v1)
{
    if (!v1)
        return len == 20 ? GCRY_MD_SHA1 : 0;
    switch (v1_hash) {
    case 1:
        return GCRY_MD_MD5;
    case 2:
        return GCRY_MD_SHA1;
    case 4:
        return GCRY_MD_SHA256;
    case 5:
        return GCRY_MD_SHA384;
    case 6:
        return GCRY_MD_SHA512;
    default:
        break;
    }
    switch (len) {
    case 16:
        return GCRY_MD_MD5;
    case 20:
        return GCRY_MD_SHA1;
    case 32:
        return GCRY_MD_SHA256;
    case 48:
        return GCRY_MD_SHA384;
    case 64:
        return GCRY_MD_SHA512;
    default:
        return 0;
    }
}

bool natd_matches(const struct ike_natd *nd, uint16_t v1_hash, uint64_t ispi, uint64_t rspi,
                  const struct ip_addr *ip, uint16_t port)
{
    int algo = md_algo(nd->len, v1_hash, nd->kind == IKE_NATD_V1);
    if (!algo || (ip->v != 4 && ip->v != 6))
        return false;
    if (!gcry_control(GCRYCTL_INITIALIZATION_FINISHED_P)) {
        gcry_check_version(NULL);
        gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
    }
    unsigned dl = gcry_md_get_algo_dlen(algo);
    if (!dl || dl > IKE_NATD_MAXLEN || dl != nd->len)
        return false;
    uint8_t buf[8 + 8 + 16 + 2];
    unsigned n = 0;
    for (int i = 7; i >= 0; i--)
        buf[n++] = (uint8_t)(ispi >> (i * 8));
    for (int i = 7; i >= 0; i--)
        buf[n++] = (uint8_t)(rspi >> (i * 8));
    unsigned al = ip->v == 6 ? 16 : 4;
    memcpy(buf + n, ip->a, al);
    n += al;
    buf[n++] = (uint8_t)(port >> 8);
    buf[n++] = (uint8_t)port;
    uint8_t md[IKE_NATD_MAXLEN];
    gcry_md_hash_buffer(algo, md, buf, n);
    return memcmp(md, nd->h, dl) == 0;
}
