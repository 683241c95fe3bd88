#ifndef EZLB_SHIM_H
#define EZLB_SHIM_H
/* Helpers for libnl macros and kernel UAPI constants that Swift cannot import. */
#include <stddef.h>
#include <stdint.h>
#include <netlink/netlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/genl/genl.h>
#include <netlink/genl/ctrl.h>
#include <linux/ip_vs.h>

/* UAPI values defined by macro expressions, as plain constants for Swift. */
enum {
    EZLB_IPVS_CMD_ATTR_MAX = IPVS_CMD_ATTR_MAX,
    EZLB_IPVS_SVC_ATTR_MAX = IPVS_SVC_ATTR_MAX,
    EZLB_IPVS_DEST_ATTR_MAX = IPVS_DEST_ATTR_MAX,
    EZLB_NLM_F_REQUEST = NLM_F_REQUEST,
    EZLB_NLM_F_ACK = NLM_F_ACK,
    EZLB_NLM_F_DUMP = NLM_F_DUMP,
    EZLB_IPVS_GENL_VERSION = IPVS_GENL_VERSION,
    EZLB_IP_VS_SCHEDNAME_MAXLEN = IP_VS_SCHEDNAME_MAXLEN,
    /* The IPv4-only sockopt interface (getsockopt on an AF_INET raw socket). */
    EZLB_IP_VS_SO_GET_SERVICES = IP_VS_SO_GET_SERVICES,
    EZLB_IP_VS_SO_GET_DESTS = IP_VS_SO_GET_DESTS,
    EZLB_IP_VS_GET_SERVICES_HDRLEN = offsetof(struct ip_vs_get_services, entrytable),
    EZLB_IP_VS_SERVICE_ENTRY_SIZE = sizeof(struct ip_vs_service_entry),
    EZLB_IP_VS_GET_DESTS_HDRLEN = offsetof(struct ip_vs_get_dests, entrytable),
    EZLB_IP_VS_DEST_ENTRY_SIZE = sizeof(struct ip_vs_dest_entry),
};

/* Socket set-up for pipelined requests and big dumps: receive/send buffers
 * (SO_*BUFFORCE when permitted, else the rmem_max/wmem_max-capped SO_*BUF),
 * short error acks (NETLINK_CAP_ACK), no MSG_PEEK with a fixed receive buffer
 * of msg_buf bytes, and a receive timeout so a lost reply cannot hang us.
 * Returns 0 or a negative libnl error. */
int ezlb_nl_tune_socket(struct nl_sock *sk, int rcvbuf, int sndbuf, size_t msg_buf, int timeout_sec);

/* genlmsg_parse() of a received message (no family header, no policy). */
int ezlb_genl_parse(struct nl_msg *msg, struct nlattr **tb, int maxtype);

/* Sequence number of a message. */
uint32_t ezlb_nlmsg_seq(struct nl_msg *msg);

/* Heap tuning for one-shot runs over large tables (see shim.c); memory only. Returns how
 * many times it ran in this process (0: never), for tests. */
void ezlb_tune_malloc(void);
int ezlb_malloc_tunings(void);

#endif
