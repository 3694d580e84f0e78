/* names.c - names for IKE exchange and notify types and PPTP control messages (wire values). */
#include "vpnscope/decode.h"
#include "vpnscope/proto.h"

#include <stdint.h>

/*
 * Every function maps a wire value through a switch and returns "unknown" for anything else, so
 * a wire value never indexes an array.
 */

/* RFC 2408 §3.1 / RFC 2409 / draft-ietf-ipsec-isakmp-mode-cfg (v1), RFC 7296 §3.1 and the
 * IANA "IKEv2 Exchange Types" registry (v2); the same values strongSwan's ike_header.h uses. */
const char *ike_exch_name(uint8_t version, uint8_t exch)
{
    if (version == 1) {
        switch (exch) {
        case 1:
            return "base";
        case 2:
            return "identity_protection";
        case 3:
            return "auth_only";
        case 4:
            return "aggressive";
        case 5:
            return "informational";
        case 6:
            return "transaction";
        case 32:
            return "quick_mode";
        case 33:
            return "new_group";
        default:
            return "unknown";
        }
    }
    if (version == 2) {
        switch (exch) {
        case 34:
            return "IKE_SA_INIT";
        case 35:
            return "IKE_AUTH";
        case 36:
            return "CREATE_CHILD_SA";
        case 37:
            return "INFORMATIONAL";
        case 38:
            return "IKE_SESSION_RESUME";
        case 43:
            return "IKE_INTERMEDIATE";
        case 44:
            return "IKE_FOLLOWUP_KE";
        default:
            return "unknown";
        }
    }
    return "unknown";
}

/*
 * IKEv2 Notify Message Types (RFC 7296 §3.10.1 and the IANA registry: RFC 4555, 5685, 5723, 7383,
 * 7427, 8019, 8229, 9242, 9370). Values that IKEv2 leaves reserved but IKEv1 defines
 * (RFC 2408 §3.14.1; RFC 2407 §4.6.3; RFC 3706) carry the IKEv1 name, so IKEv1 notifies are named
 * too; where both define a value the IKEv2 name wins.
 */
const char *ike_notify_name(uint16_t type)
{
    switch (type) {
    /* errors */
    case 1:
        return "UNSUPPORTED_CRITICAL_PAYLOAD";
    case 2:
        return "DOI_NOT_SUPPORTED"; /* v1 */
    case 3:
        return "SITUATION_NOT_SUPPORTED"; /* v1 */
    case 4:
        return "INVALID_IKE_SPI";
    case 5:
        return "INVALID_MAJOR_VERSION";
    case 6:
        return "INVALID_MINOR_VERSION"; /* v1 */
    case 7:
        return "INVALID_SYNTAX";
    case 8:
        return "INVALID_FLAGS"; /* v1 */
    case 9:
        return "INVALID_MESSAGE_ID";
    case 10:
        return "INVALID_PROTOCOL_ID"; /* v1 */
    case 11:
        return "INVALID_SPI";
    case 12:
        return "INVALID_TRANSFORM_ID"; /* v1 */
    case 13:
        return "ATTRIBUTES_NOT_SUPPORTED"; /* v1 */
    case 14:
        return "NO_PROPOSAL_CHOSEN";
    case 15:
        return "BAD_PROPOSAL_SYNTAX"; /* v1 */
    case 16:
        return "PAYLOAD_MALFORMED"; /* v1 */
    case 17:
        return "INVALID_KE_PAYLOAD";
    case 18:
        return "INVALID_ID_INFORMATION"; /* v1 */
    case 19:
        return "INVALID_CERT_ENCODING"; /* v1 */
    case 20:
        return "INVALID_CERTIFICATE"; /* v1 */
    case 21:
        return "CERT_TYPE_UNSUPPORTED"; /* v1 */
    case 22:
        return "INVALID_CERT_AUTHORITY"; /* v1 */
    case 23:
        return "INVALID_HASH_INFORMATION"; /* v1 */
    case 24:
        return "AUTHENTICATION_FAILED";
    case 25:
        return "INVALID_SIGNATURE"; /* v1 */
    case 26:
        return "ADDRESS_NOTIFICATION"; /* v1 */
    case 27:
        return "NOTIFY_SA_LIFETIME"; /* v1 */
    case 28:
        return "CERTIFICATE_UNAVAILABLE"; /* v1 */
    case 29:
        return "UNSUPPORTED_EXCHANGE_TYPE"; /* v1 */
    case 30:
        return "UNEQUAL_PAYLOAD_LENGTHS"; /* v1 */
    case 34:
        return "SINGLE_PAIR_REQUIRED";
    case 35:
        return "NO_ADDITIONAL_SAS";
    case 36:
        return "INTERNAL_ADDRESS_FAILURE";
    case 37:
        return "FAILED_CP_REQUIRED";
    case 38:
        return "TS_UNACCEPTABLE";
    case 39:
        return "INVALID_SELECTORS";
    case 40:
        return "UNACCEPTABLE_ADDRESSES";
    case 41:
        return "UNEXPECTED_NAT_DETECTED";
    case 42:
        return "USE_ASSIGNED_HoA";
    case 43:
        return "TEMPORARY_FAILURE";
    case 44:
        return "CHILD_SA_NOT_FOUND";
    case 45:
        return "INVALID_GROUP_ID";
    case 46:
        return "AUTHORIZATION_FAILED";
    case 47:
        return "STATE_NOT_FOUND";
    case 48:
        return "TS_MAX_QUEUE";
    /* status */
    case 16384:
        return "INITIAL_CONTACT";
    case 16385:
        return "SET_WINDOW_SIZE";
    case 16386:
        return "ADDITIONAL_TS_POSSIBLE";
    case 16387:
        return "IPCOMP_SUPPORTED";
    case 16388:
        return "NAT_DETECTION_SOURCE_IP";
    case 16389:
        return "NAT_DETECTION_DESTINATION_IP";
    case 16390:
        return "COOKIE";
    case 16391:
        return "USE_TRANSPORT_MODE";
    case 16392:
        return "HTTP_CERT_LOOKUP_SUPPORTED";
    case 16393:
        return "REKEY_SA";
    case 16394:
        return "ESP_TFC_PADDING_NOT_SUPPORTED";
    case 16395:
        return "NON_FIRST_FRAGMENTS_ALSO";
    case 16396:
        return "MOBIKE_SUPPORTED";
    case 16397:
        return "ADDITIONAL_IP4_ADDRESS";
    case 16398:
        return "ADDITIONAL_IP6_ADDRESS";
    case 16399:
        return "NO_ADDITIONAL_ADDRESSES";
    case 16400:
        return "UPDATE_SA_ADDRESSES";
    case 16401:
        return "COOKIE2";
    case 16402:
        return "NO_NATS_ALLOWED";
    case 16403:
        return "AUTH_LIFETIME";
    case 16404:
        return "MULTIPLE_AUTH_SUPPORTED";
    case 16405:
        return "ANOTHER_AUTH_FOLLOWS";
    case 16406:
        return "REDIRECT_SUPPORTED";
    case 16407:
        return "REDIRECT";
    case 16408:
        return "REDIRECTED_FROM";
    case 16409:
        return "TICKET_LT_OPAQUE";
    case 16410:
        return "TICKET_REQUEST";
    case 16411:
        return "TICKET_ACK";
    case 16412:
        return "TICKET_NACK";
    case 16413:
        return "TICKET_OPAQUE";
    case 16414:
        return "LINK_ID";
    case 16415:
        return "USE_WESP_MODE";
    case 16416:
        return "ROHC_SUPPORTED";
    case 16417:
        return "EAP_ONLY_AUTHENTICATION";
    case 16418:
        return "CHILDLESS_IKEV2_SUPPORTED";
    case 16419:
        return "QUICK_CRASH_DETECTION";
    case 16420:
        return "IKEV2_MESSAGE_ID_SYNC_SUPPORTED";
    case 16421:
        return "IPSEC_REPLAY_COUNTER_SYNC_SUPPORTED";
    case 16422:
        return "IKEV2_MESSAGE_ID_SYNC";
    case 16423:
        return "IPSEC_REPLAY_COUNTER_SYNC";
    case 16424:
        return "SECURE_PASSWORD_METHODS";
    case 16425:
        return "PSK_PERSIST";
    case 16426:
        return "PSK_CONFIRM";
    case 16427:
        return "ERX_SUPPORTED";
    case 16428:
        return "IFOM_CAPABILITY";
    case 16429:
        return "SENDER_REQUEST_ID";
    case 16430:
        return "IKEV2_FRAGMENTATION_SUPPORTED";
    case 16431:
        return "SIGNATURE_HASH_ALGORITHMS";
    case 16432:
        return "CLONE_IKE_SA_SUPPORTED";
    case 16433:
        return "CLONE_IKE_SA";
    case 16434:
        return "PUZZLE";
    case 16435:
        return "USE_PPK";
    case 16436:
        return "PPK_IDENTITY";
    case 16437:
        return "NO_PPK_AUTH";
    case 16438:
        return "INTERMEDIATE_EXCHANGE_SUPPORTED";
    case 16439:
        return "IP4_ALLOWED";
    case 16440:
        return "IP6_ALLOWED";
    case 16441:
        return "ADDITIONAL_KEY_EXCHANGE";
    case 16442:
        return "USE_AGGFRAG";
    /* IKEv1 status (RFC 2407 §4.6.3, RFC 3706) */
    case 24576:
        return "RESPONDER_LIFETIME";
    case 24577:
        return "REPLAY_STATUS";
    case 24578:
        return "INITIAL_CONTACT_V1";
    case 36136:
        return "R_U_THERE";
    case 36137:
        return "R_U_THERE_ACK";
    default:
        return "unknown";
    }
}

/* RFC 2637 §2 control message types 1..15 (names as tcpdump print-pptp.c prints them). */
const char *pptp_ctrl_name(uint16_t ctrl_type)
{
    switch (ctrl_type) {
    case PPTP_SCCRQ:
        return "SCCRQ";
    case PPTP_SCCRP:
        return "SCCRP";
    case PPTP_STOPCCRQ:
        return "StopCCRQ";
    case PPTP_STOPCCRP:
        return "StopCCRP";
    case PPTP_ECHORQ:
        return "ECHORQ";
    case PPTP_ECHORP:
        return "ECHORP";
    case PPTP_OCRQ:
        return "OCRQ";
    case PPTP_OCRP:
        return "OCRP";
    case PPTP_ICRQ:
        return "ICRQ";
    case PPTP_ICRP:
        return "ICRP";
    case PPTP_ICCN:
        return "ICCN";
    case PPTP_CCRQ:
        return "CCRQ";
    case PPTP_CDN:
        return "CDN";
    case PPTP_WEN:
        return "WEN";
    case PPTP_SLI:
        return "SLI";
    default:
        return "unknown";
    }
}

const char *ip_proto_name(uint8_t proto)
{
    switch (proto) {
    case IPP_ICMP:
        return "icmp";
    case IPP_IPIP:
        return "ipip";
    case IPP_TCP:
        return "tcp";
    case IPP_UDP:
        return "udp";
    case IPP_IPV6:
        return "ipv6";
    case IPP_GRE:
        return "gre";
    case IPP_ESP:
        return "esp";
    case IPP_AH:
        return "ah";
    case IPP_ICMPV6:
        return "icmpv6";
    case IPP_L2TPV3:
        return "l2tpv3";
    default:
        return NULL;
    }
}
