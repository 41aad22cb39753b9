// The system resolver (libresolv): res_query for SRV look-ups and its message parser.
#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/nameser.h>
#include <resolv.h>

/// ns_msg_count is a macro; Swift cannot call macros with arguments.
static inline int cresolv_section_count(const ns_msg *message, ns_sect section) {
    return ns_msg_count(*message, section);
}
