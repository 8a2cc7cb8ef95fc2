// Socket helpers: getaddrinfo/sockaddr handling is shorter and clearer in C than in Swift
// (and the load client's CPU pinning and close-on-exec pipes, which Swift cannot reach).
#define _GNU_SOURCE 1
#include "CShimSys.h"
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

static int resolve(const char *host, int port, int passive, struct addrinfo **out) {
    struct addrinfo hints;
    char portbuf[16];
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = passive ? AI_PASSIVE : 0;
    snprintf(portbuf, sizeof portbuf, "%d", port);
    return getaddrinfo(host && *host ? host : NULL, portbuf, &hints, out);
}

int CShim_tcp_listen(const char *host, int port, int backlog, int reuseport) {
    struct addrinfo *res, *ai;
    if (resolve(host, port, 1, &res) != 0) return -EADDRNOTAVAIL;
    int err = -EADDRNOTAVAIL;
    for (ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) { err = -errno; continue; }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
            err = -errno; close(fd); continue;
        }
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, backlog) < 0) {
            err = -errno; close(fd); continue;
        }
        freeaddrinfo(res);
        return fd;
    }
    freeaddrinfo(res);
    return err;
}

int CShim_local_port(int fd) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) return -1;
    if (ss.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -1;
}

int CShim_accept(int listen_fd) {
    int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return -errno;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

int CShim_tcp_connect(const char *host, int port, const char *source) {
    struct addrinfo *res;
    if (resolve(host, port, 0, &res) != 0) return -EADDRNOTAVAIL;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) { int e = -errno; freeaddrinfo(res); return e; }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (source && *source) {
        struct addrinfo *src;
        // Let the kernel pick the port late (IP_BIND_ADDRESS_NO_PORT) so many sources scale.
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (resolve(source, 0, 1, &src) != 0) { close(fd); freeaddrinfo(res); return -EADDRNOTAVAIL; }
        int rc = bind(fd, src->ai_addr, src->ai_addrlen);
        freeaddrinfo(src);
        if (rc < 0) { int e = -errno; close(fd); freeaddrinfo(res); return e; }
    }
    int rc = connect(fd, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (rc < 0 && errno != EINPROGRESS) { int e = -errno; close(fd); return e; }
    return fd;
}

int CShim_socket_error(int fd) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return errno;
    return err;
}

int CShim_is_loopback_host(const char *host) {
    struct addrinfo *res, *ai;
    if (!host || !*host) return 0;   // "" means every interface: not loopback
    if (resolve(host, 0, 0, &res) != 0) return 0;
    int all = 1;
    for (ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET) {
            uint32_t a = ntohl(((struct sockaddr_in *)ai->ai_addr)->sin_addr.s_addr);
            if ((a >> 24) != 127) all = 0;
        } else if (ai->ai_family == AF_INET6) {
            if (!IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr)) all = 0;
        } else {
            all = 0;
        }
    }
    freeaddrinfo(res);
    return all;
}

int CShim_host_resolves(const char *host) {
    struct addrinfo *res;
    if (resolve(host, 0, 1, &res) != 0) return 0;
    freeaddrinfo(res);
    return 1;
}

int CShim_errno(void) { return errno; }

void CShim_stdout_line_buffered(void) { setvbuf(stdout, NULL, _IOLBF, 0); }

int CShim_set_affinity(const int *cpus, int count) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int i = 0; i < count; i++) {
        if (cpus[i] < 0 || cpus[i] >= CPU_SETSIZE) return -EINVAL;
        CPU_SET(cpus[i], &set);
    }
    return sched_setaffinity(0, sizeof set, &set) == 0 ? 0 : -errno;
}

int CShim_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC) == 0 ? 0 : -errno; }
