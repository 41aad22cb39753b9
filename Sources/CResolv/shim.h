// The system resolver (libresolv): res_query for SRV look-ups and its message parser.
#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <resolv.h>

/// ns_msg_count is a macro; Swift cannot call macros with arguments.
static inline int cresolv_section_count(const ns_msg *message, ns_sect section) {
    return ns_msg_count(*message, section);
}

/// Why the calling thread's last res_query failed (HOST_NOT_FOUND, NO_DATA, TRY_AGAIN,
/// NO_RECOVERY): h_errno is a macro Swift cannot see.
static inline int cresolv_h_errno(void) {
    return h_errno;
}
