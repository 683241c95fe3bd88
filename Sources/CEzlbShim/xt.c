/* x_tables entries for libiptc: layouts follow the kernel UAPI structs and the
 * revisions iptables-legacy 1.8 itself writes (checked against its entries):
 *   tcp/udp rev 0 (struct xt_tcp / xt_udp), sctp rev 0 (xt_sctp_info),
 *   comment rev 0 (xt_comment_info), conntrack rev 3 (xt_conntrack_mtinfo3:
 *   --ctstate, --ctproto, --ctorigdst, --ctorigdstport), mark rev 1
 *   (xt_mark_mtinfo1), SNAT rev 0 on IPv4 (nf_nat_ipv4_multi_range_compat) and
 *   rev 1 on IPv6 (nf_nat_range), MASQUERADE rev 0 (same two structs),
 *   standard targets and jumps as struct xt_standard_target; -i/-o in the
 *   entry header (name, mask, IPT_INV_VIA_IN/OUT), as iptables fills them. */
#include "ezlb_xt.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <libiptc/libiptc.h>
#include <libiptc/libip6tc.h>
#include <linux/netfilter/xt_tcpudp.h>
#include <linux/netfilter/xt_sctp.h>
#include <linux/netfilter/xt_comment.h>
#include <linux/netfilter/xt_conntrack.h>
#include <linux/netfilter/xt_mark.h>
#include <linux/netfilter/nf_nat.h>

_Static_assert(IFNAMSIZ == sizeof(((struct ezlb_xt_rule *)0)->iniface), "interface fields are IFNAMSIZ bytes");

/* libip4tc (v6 = 0) or libip6tc (1). */
struct xtc_handle *ezlb_xt_init(int v6, const char *table) { return v6 ? ip6tc_init(table) : iptc_init(table); }
void ezlb_xt_free(int v6, struct xtc_handle *h) { if (v6) ip6tc_free(h); else iptc_free(h); }
int ezlb_xt_commit(int v6, struct xtc_handle *h) { return v6 ? ip6tc_commit(h) : iptc_commit(h); }
const char *ezlb_xt_strerror(int v6, int err) { return v6 ? ip6tc_strerror(err) : iptc_strerror(err); }
int ezlb_xt_is_chain(int v6, const char *c, struct xtc_handle *h) { return v6 ? ip6tc_is_chain(c, h) : iptc_is_chain(c, h); }
int ezlb_xt_builtin(int v6, const char *c, struct xtc_handle *h) { return v6 ? ip6tc_builtin(c, h) : iptc_builtin(c, h); }
const char *ezlb_xt_first_chain(int v6, struct xtc_handle *h) { return v6 ? ip6tc_first_chain(h) : iptc_first_chain(h); }
const char *ezlb_xt_next_chain(int v6, struct xtc_handle *h) { return v6 ? ip6tc_next_chain(h) : iptc_next_chain(h); }
const char *ezlb_xt_policy(int v6, const char *c, struct xtc_handle *h) {
    struct xt_counters counters;
    return v6 ? ip6tc_get_policy(c, &counters, h) : iptc_get_policy(c, &counters, h);
}
int ezlb_xt_create_chain(int v6, const char *c, struct xtc_handle *h) { return v6 ? ip6tc_create_chain(c, h) : iptc_create_chain(c, h); }
int ezlb_xt_flush_chain(int v6, const char *c, struct xtc_handle *h) { return v6 ? ip6tc_flush_entries(c, h) : iptc_flush_entries(c, h); }
int ezlb_xt_delete_chain(int v6, const char *c, struct xtc_handle *h) { return v6 ? ip6tc_delete_chain(c, h) : iptc_delete_chain(c, h); }
int ezlb_xt_delete_num(int v6, const char *c, unsigned int n, struct xtc_handle *h) {
    return v6 ? ip6tc_delete_num_entry(c, n, h) : iptc_delete_num_entry(c, n, h);
}
const void *ezlb_xt_first_rule(int v6, const char *c, struct xtc_handle *h) {
    return v6 ? (const void *)ip6tc_first_rule(c, h) : (const void *)iptc_first_rule(c, h);
}
const void *ezlb_xt_next_rule(int v6, const void *prev, struct xtc_handle *h) {
    return v6 ? (const void *)ip6tc_next_rule(prev, h) : (const void *)iptc_next_rule(prev, h);
}
const char *ezlb_xt_target(int v6, const void *entry, struct xtc_handle *h) {
    return v6 ? ip6tc_get_target(entry, h) : iptc_get_target(entry, h);
}

static void prefix_mask(uint8_t *mask, int bytes, int len) {
    memset(mask, 0, bytes);
    for (int i = 0; i < len && i < bytes * 8; i++) mask[i / 8] |= (uint8_t)(0x80 >> (i % 8));
}

/* Prefix length of a contiguous mask; -1 when not contiguous. */
static int mask_len(const uint8_t *mask, int bytes) {
    int n = 0, i = 0;
    for (; i < bytes * 8 && (mask[i / 8] & (0x80 >> (i % 8))); i++) n++;
    for (; i < bytes * 8; i++) if (mask[i / 8] & (0x80 >> (i % 8))) return -1;
    return n;
}

/* Appends one match (header + data) at *off; returns its aligned size. */
static size_t put_match(uint8_t *buf, size_t off, const char *name, uint8_t rev, const void *data, size_t dlen) {
    size_t size = XT_ALIGN(sizeof(struct xt_entry_match) + dlen);
    if (buf) {
        struct xt_entry_match *m = (struct xt_entry_match *)(buf + off);
        m->u.user.match_size = (uint16_t)size;
        strncpy(m->u.user.name, name, sizeof(m->u.user.name) - 1);
        m->u.user.revision = rev;
        memcpy(m->data, data, dlen);
    }
    return size;
}

static size_t put_target(uint8_t *buf, size_t off, const char *name, uint8_t rev, const void *data, size_t dlen) {
    size_t size = XT_ALIGN(sizeof(struct xt_entry_target) + dlen);
    if (buf) {
        struct xt_entry_target *t = (struct xt_entry_target *)(buf + off);
        t->u.user.target_size = (uint16_t)size;
        strncpy(t->u.user.name, name, sizeof(t->u.user.name) - 1);
        t->u.user.revision = rev;
        memcpy(t->data, data, dlen);
    }
    return size;
}

/* Lays the matches and target out after a header of hdr bytes; with buf NULL
 * only measures. Sets *target_offset. */
static size_t layout(int v6, const struct ezlb_xt_rule *r, uint8_t *buf, size_t hdr, size_t *target_offset) {
    size_t off = hdr;
    if (r->proto == IPPROTO_TCP && (r->sport || r->dport)) {
        struct xt_tcp t; memset(&t, 0, sizeof t);
        t.spts[0] = r->sport ? r->sport : 0; t.spts[1] = r->sport ? r->sport : 0xFFFF;
        t.dpts[0] = r->dport ? r->dport : 0; t.dpts[1] = r->dport ? r->dport : 0xFFFF;
        off += put_match(buf, off, "tcp", 0, &t, sizeof t);
    } else if (r->proto == IPPROTO_UDP && (r->sport || r->dport)) {
        struct xt_udp u; memset(&u, 0, sizeof u);
        u.spts[0] = r->sport ? r->sport : 0; u.spts[1] = r->sport ? r->sport : 0xFFFF;
        u.dpts[0] = r->dport ? r->dport : 0; u.dpts[1] = r->dport ? r->dport : 0xFFFF;
        off += put_match(buf, off, "udp", 0, &u, sizeof u);
    } else if (r->proto == IPPROTO_SCTP && (r->sport || r->dport)) {
        struct xt_sctp_info s; memset(&s, 0, sizeof s);
        s.spts[0] = r->sport ? r->sport : 0; s.spts[1] = r->sport ? r->sport : 0xFFFF;
        s.dpts[0] = r->dport ? r->dport : 0; s.dpts[1] = r->dport ? r->dport : 0xFFFF;
        if (r->sport) s.flags |= XT_SCTP_SRC_PORTS;
        if (r->dport) s.flags |= XT_SCTP_DEST_PORTS;
        off += put_match(buf, off, "sctp", 0, &s, sizeof s);
    }
    if (r->ctstate || r->ctproto || r->ctorigdst_set || r->ctorigdstport) {
        /* As libxt_conntrack rev 3 fills it: ports in host order, min = max. */
        struct xt_conntrack_mtinfo3 c; memset(&c, 0, sizeof c);
        if (r->ctstate) { c.match_flags |= XT_CONNTRACK_STATE; c.state_mask = r->ctstate; }
        if (r->ctproto) { c.match_flags |= XT_CONNTRACK_PROTO; c.l4proto = r->ctproto; }
        if (r->ctorigdst_set) {
            c.match_flags |= XT_CONNTRACK_ORIGDST;
            memcpy(&c.origdst_addr, r->ctorigdst, v6 ? 16 : 4);
            memset(&c.origdst_mask, 0xFF, sizeof c.origdst_mask); /* all 16 bytes, as iptables fills it for IPv4 too */
        }
        if (r->ctorigdstport) {
            c.match_flags |= XT_CONNTRACK_ORIGDST_PORT;
            c.origdst_port = r->ctorigdstport; c.origdst_port_high = r->ctorigdstport;
        }
        off += put_match(buf, off, "conntrack", 3, &c, sizeof c);
    }
    if (r->mark_set) {
        struct xt_mark_mtinfo1 m; memset(&m, 0, sizeof m);
        m.mark = r->mark; m.mask = r->mark_mask;
        off += put_match(buf, off, "mark", 1, &m, sizeof m);
    }
    if (r->comment[0]) {
        struct xt_comment_info ci; memset(&ci, 0, sizeof ci);
        strncpy(ci.comment, r->comment, sizeof ci.comment - 1);
        off += put_match(buf, off, "comment", 0, &ci, sizeof ci);
    }
    *target_offset = off;
    switch (r->target) {
    case EZLB_XT_TARGET_SNAT:
    case EZLB_XT_TARGET_MASQUERADE: {
        const char *name = r->target == EZLB_XT_TARGET_SNAT ? "SNAT" : "MASQUERADE";
        if (v6) {
            struct nf_nat_range n; memset(&n, 0, sizeof n);
            if (r->target == EZLB_XT_TARGET_SNAT) {
                n.flags = NF_NAT_RANGE_MAP_IPS;
                memcpy(&n.min_addr.in6, r->to_source, 16);
                memcpy(&n.max_addr.in6, r->to_source, 16);
            }
            off += put_target(buf, off, name, r->target == EZLB_XT_TARGET_SNAT ? 1 : 0, &n, sizeof n);
        } else {
            struct nf_nat_ipv4_multi_range_compat n; memset(&n, 0, sizeof n);
            n.rangesize = 1;
            if (r->target == EZLB_XT_TARGET_SNAT) {
                n.range[0].flags = NF_NAT_RANGE_MAP_IPS;
                memcpy(&n.range[0].min_ip, r->to_source, 4);
                memcpy(&n.range[0].max_ip, r->to_source, 4);
            }
            off += put_target(buf, off, name, 0, &n, sizeof n);
        }
        break;
    }
    default: {
        /* A standard target or a jump: libiptc maps the name to a verdict or chain offset. */
        int verdict = 0;
        off += put_target(buf, off, r->label, 0, &verdict, sizeof verdict);
        break;
    }
    }
    return off;
}

void *ezlb_xt_build(int v6, const struct ezlb_xt_rule *r, size_t *len) {
    size_t hdr = v6 ? sizeof(struct ip6t_entry) : sizeof(struct ipt_entry), toff = 0;
    size_t size = layout(v6, r, NULL, hdr, &toff);
    uint8_t *buf = calloc(1, size);
    if (!buf) return NULL;
    layout(v6, r, buf, hdr, &toff);
    if (v6) {
        struct ip6t_entry *e = (struct ip6t_entry *)buf;
        memcpy(&e->ipv6.src, r->src, 16); prefix_mask((uint8_t *)&e->ipv6.smsk, 16, r->src_len);
        memcpy(&e->ipv6.dst, r->dst, 16); prefix_mask((uint8_t *)&e->ipv6.dmsk, 16, r->dst_len);
        memcpy(e->ipv6.iniface, r->iniface, IFNAMSIZ); memcpy(e->ipv6.iniface_mask, r->iniface_mask, IFNAMSIZ);
        memcpy(e->ipv6.outiface, r->outiface, IFNAMSIZ); memcpy(e->ipv6.outiface_mask, r->outiface_mask, IFNAMSIZ);
        if (r->iniface_invert) e->ipv6.invflags |= IP6T_INV_VIA_IN;
        if (r->outiface_invert) e->ipv6.invflags |= IP6T_INV_VIA_OUT;
        e->ipv6.proto = r->proto;
        if (r->proto) e->ipv6.flags |= IP6T_F_PROTO;
        e->target_offset = (uint16_t)toff;
        e->next_offset = (uint16_t)size;
    } else {
        struct ipt_entry *e = (struct ipt_entry *)buf;
        memcpy(&e->ip.src, r->src, 4); prefix_mask((uint8_t *)&e->ip.smsk, 4, r->src_len);
        memcpy(&e->ip.dst, r->dst, 4); prefix_mask((uint8_t *)&e->ip.dmsk, 4, r->dst_len);
        memcpy(e->ip.iniface, r->iniface, IFNAMSIZ); memcpy(e->ip.iniface_mask, r->iniface_mask, IFNAMSIZ);
        memcpy(e->ip.outiface, r->outiface, IFNAMSIZ); memcpy(e->ip.outiface_mask, r->outiface_mask, IFNAMSIZ);
        if (r->iniface_invert) e->ip.invflags |= IPT_INV_VIA_IN;
        if (r->outiface_invert) e->ip.invflags |= IPT_INV_VIA_OUT;
        e->ip.proto = r->proto;
        e->target_offset = (uint16_t)toff;
        e->next_offset = (uint16_t)size;
    }
    if (len) *len = size;
    return buf;
}

int ezlb_xt_add_rule(int v6, const char *chain, const struct ezlb_xt_rule *r, int num, struct xtc_handle *h) {
    size_t len = 0;
    void *e = ezlb_xt_build(v6, r, &len);
    if (!e) { errno = ENOMEM; return 0; }
    int ok = num < 0 ? (v6 ? ip6tc_append_entry(chain, e, h) : iptc_append_entry(chain, e, h))
                     : (v6 ? ip6tc_insert_entry(chain, e, (unsigned)num, h) : iptc_insert_entry(chain, e, (unsigned)num, h));
    int saved = errno;
    free(e);
    errno = saved;
    return ok;
}

static int parse_ports(const uint16_t *pts, uint16_t *port) {
    if (pts[0] == 0 && pts[1] == 0xFFFF) { *port = 0; return 1; }
    if (pts[0] == pts[1] && pts[0] != 0) { *port = pts[0]; return 1; }
    return 0;
}

void ezlb_xt_parse(int v6, const void *entry, struct xtc_handle *h, struct ezlb_xt_rule *r) {
    memset(r, 0, sizeof *r);
    int ok = 1;
    const uint8_t *base = entry;
    size_t hdr, toff;
    if (v6) {
        const struct ip6t_entry *e = entry;
        memcpy(r->src, &e->ipv6.src, 16); memcpy(r->dst, &e->ipv6.dst, 16);
        int sl = mask_len((const uint8_t *)&e->ipv6.smsk, 16), dl = mask_len((const uint8_t *)&e->ipv6.dmsk, 16);
        if (sl < 0 || dl < 0) ok = 0;
        r->src_len = sl < 0 ? 0 : sl; r->dst_len = dl < 0 ? 0 : dl;
        r->proto = e->ipv6.proto;
        if ((e->ipv6.invflags & ~(IP6T_INV_VIA_IN | IP6T_INV_VIA_OUT)) || (e->ipv6.flags & ~IP6T_F_PROTO) || e->ipv6.tos) ok = 0;
        memcpy(r->iniface, e->ipv6.iniface, IFNAMSIZ); memcpy(r->iniface_mask, e->ipv6.iniface_mask, IFNAMSIZ);
        memcpy(r->outiface, e->ipv6.outiface, IFNAMSIZ); memcpy(r->outiface_mask, e->ipv6.outiface_mask, IFNAMSIZ);
        r->iniface_invert = (e->ipv6.invflags & IP6T_INV_VIA_IN) != 0;
        r->outiface_invert = (e->ipv6.invflags & IP6T_INV_VIA_OUT) != 0;
        hdr = sizeof *e; toff = e->target_offset;
        const char *label = ip6tc_get_target(e, h);
        strncpy(r->label, label ? label : "", sizeof r->label - 1);
    } else {
        const struct ipt_entry *e = entry;
        memcpy(r->src, &e->ip.src, 4); memcpy(r->dst, &e->ip.dst, 4);
        int sl = mask_len((const uint8_t *)&e->ip.smsk, 4), dl = mask_len((const uint8_t *)&e->ip.dmsk, 4);
        if (sl < 0 || dl < 0) ok = 0;
        r->src_len = sl < 0 ? 0 : sl; r->dst_len = dl < 0 ? 0 : dl;
        r->proto = e->ip.proto;
        if ((e->ip.invflags & ~(IPT_INV_VIA_IN | IPT_INV_VIA_OUT)) || e->ip.flags) ok = 0;
        memcpy(r->iniface, e->ip.iniface, IFNAMSIZ); memcpy(r->iniface_mask, e->ip.iniface_mask, IFNAMSIZ);
        memcpy(r->outiface, e->ip.outiface, IFNAMSIZ); memcpy(r->outiface_mask, e->ip.outiface_mask, IFNAMSIZ);
        r->iniface_invert = (e->ip.invflags & IPT_INV_VIA_IN) != 0;
        r->outiface_invert = (e->ip.invflags & IPT_INV_VIA_OUT) != 0;
        hdr = sizeof *e; toff = e->target_offset;
        const char *label = iptc_get_target(e, h);
        strncpy(r->label, label ? label : "", sizeof r->label - 1);
    }
    int seen_proto = 0, seen_ct = 0;
    for (size_t off = hdr; off < toff;) {
        const struct xt_entry_match *m = (const void *)(base + off);
        if (m->u.match_size < sizeof *m) { ok = 0; break; }
        const char *n = m->u.user.name;
        if ((!strcmp(n, "tcp") || !strcmp(n, "udp")) && m->u.user.revision == 0 && !seen_proto) {
            seen_proto = 1;
            if (!strcmp(n, "tcp")) {
                const struct xt_tcp *t = (const void *)m->data;
                if (r->proto != IPPROTO_TCP || t->option || t->flg_mask || t->flg_cmp || t->invflags) ok = 0;
                if (!parse_ports(t->spts, &r->sport) || !parse_ports(t->dpts, &r->dport)) ok = 0;
            } else {
                const struct xt_udp *u = (const void *)m->data;
                if (r->proto != IPPROTO_UDP || u->invflags) ok = 0;
                if (!parse_ports(u->spts, &r->sport) || !parse_ports(u->dpts, &r->dport)) ok = 0;
            }
            if (!r->sport && !r->dport) ok = 0;
        } else if (!strcmp(n, "sctp") && m->u.user.revision == 0 && !seen_proto) {
            seen_proto = 1;
            const struct xt_sctp_info *s = (const void *)m->data;
            if (r->proto != IPPROTO_SCTP || s->invflags || (s->flags & ~(XT_SCTP_SRC_PORTS | XT_SCTP_DEST_PORTS))) ok = 0;
            if (s->flags & XT_SCTP_SRC_PORTS) { if (!parse_ports(s->spts, &r->sport) || !r->sport) ok = 0; }
            if (s->flags & XT_SCTP_DEST_PORTS) { if (!parse_ports(s->dpts, &r->dport) || !r->dport) ok = 0; }
            if (!s->flags) ok = 0;
        } else if (!strcmp(n, "conntrack") && m->u.user.revision == 3 && !seen_ct) {
            seen_ct = 1;
            const struct xt_conntrack_mtinfo3 *c = (const void *)m->data;
            const unsigned known = XT_CONNTRACK_STATE | XT_CONNTRACK_PROTO | XT_CONNTRACK_ORIGDST | XT_CONNTRACK_ORIGDST_PORT;
            if ((c->match_flags & ~known) || !c->match_flags || c->invert_flags) ok = 0;
            if (c->match_flags & XT_CONNTRACK_STATE) { r->ctstate = c->state_mask; if (!c->state_mask) ok = 0; }
            if (c->match_flags & XT_CONNTRACK_PROTO) { r->ctproto = c->l4proto; if (!c->l4proto) ok = 0; }
            if (c->match_flags & XT_CONNTRACK_ORIGDST) {
                r->ctorigdst_set = 1;
                memcpy(r->ctorigdst, &c->origdst_addr, v6 ? 16 : 4);
                if (mask_len((const uint8_t *)&c->origdst_mask, v6 ? 16 : 4) != (v6 ? 128 : 32)) ok = 0;
            }
            if (c->match_flags & XT_CONNTRACK_ORIGDST_PORT) {
                r->ctorigdstport = c->origdst_port;
                if (!c->origdst_port || c->origdst_port != c->origdst_port_high) ok = 0;
            }
        } else if (!strcmp(n, "mark") && m->u.user.revision == 1 && !r->mark_set) {
            const struct xt_mark_mtinfo1 *mk = (const void *)m->data;
            if (mk->invert) ok = 0;
            r->mark_set = 1; r->mark = mk->mark; r->mark_mask = mk->mask;
        } else if (!strcmp(n, "comment") && m->u.user.revision == 0 && !r->comment[0]) {
            const struct xt_comment_info *ci = (const void *)m->data;
            memcpy(r->comment, ci->comment, sizeof r->comment - 1);
            if (!r->comment[0]) ok = 0;
        } else {
            ok = 0;
        }
        off += m->u.match_size;
    }
    const struct xt_entry_target *t = (const void *)(base + toff);
    if (!strcmp(t->u.user.name, "SNAT") || !strcmp(t->u.user.name, "MASQUERADE")) {
        int snat = !strcmp(t->u.user.name, "SNAT");
        r->target = snat ? EZLB_XT_TARGET_SNAT : EZLB_XT_TARGET_MASQUERADE;
        if (v6) {
            const struct nf_nat_range *n = (const void *)t->data;
            if (t->u.user.revision != (snat ? 1 : 0) || t->u.target_size < XT_ALIGN(sizeof *t + sizeof *n)) ok = 0;
            else if (snat) {
                if (n->flags != NF_NAT_RANGE_MAP_IPS || memcmp(&n->min_addr.in6, &n->max_addr.in6, 16)) ok = 0;
                memcpy(r->to_source, &n->min_addr.in6, 16);
            } else if (n->flags) ok = 0;
        } else {
            const struct nf_nat_ipv4_multi_range_compat *n = (const void *)t->data;
            if (t->u.user.revision != 0 || n->rangesize != 1) ok = 0;
            else if (snat) {
                if (n->range[0].flags != NF_NAT_RANGE_MAP_IPS || n->range[0].min_ip != n->range[0].max_ip) ok = 0;
                memcpy(r->to_source, &n->range[0].min_ip, 4);
            } else if (n->range[0].flags) ok = 0;
        }
    } else {
        r->target = EZLB_XT_TARGET_LABEL;
        /* A standard verdict or a jump: the label from libiptc. Other target
         * modules (LOG, DNAT, ...) are not ezlb's. */
        if (t->u.user.name[0]) ok = 0;
        if (!r->label[0]) ok = 0;
    }
    r->understood = ok;
}
