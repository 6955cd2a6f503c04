/* The kernel's own cost of a container start, for `make bench` (tests/bench/bench.sh compiles it,
 * static, into its scratch directory; it is never committed as a binary).
 *
 *   floor bare ROOTFS CMD [ARG...]
 *     clone into five namespaces (mount, UTS, IPC, PID, network), pivot_root into ROOTFS (a bind
 *     mount of it, made private first), a mount of /proc, execve: the least any runtime does.
 *
 *   floor equivalent ROOTFS [--cgroup DIR]... [--seccomp FILE] CMD [ARG...]
 *     the kernel work a default `contain run --rootfs ROOTFS -- CMD` asks for, in the same order,
 *     and nothing of a runtime's own (no state, no log, no exec stub, no relay): a cgroup under each
 *     DIR (one per hierarchy contain uses) that the child joins before it may go on, then in the
 *     child a cgroup namespace, private mounts, the hostname, the rootfs bound with nodev, contain's
 *     mount table (proc, sysfs, the /dev tmpfs with its six device binds, devpts, /dev/shm, the
 *     links), pivot_root(".", ".") and the detach of the old root, the masks and read-only paths
 *     (runc's lists, those this kernel has), lo up, the capability bounding set and sets of
 *     Docker's 14, no_new_privs, the death signal, the seccomp program in FILE (contain's default
 *     filter as bytes, from its unit test `the_default_program_as_the_kernel_reads_it`), execve.
 *     The parent then waits and removes the cgroups. The child joins a v1 cgroup as contain's does:
 *     the parent opens its `tasks` file before the clone, the child writes "0" into it once released
 *     (a thread moving itself takes no thread-group lock). A cgroup2 directory has no `tasks` file:
 *     the parent writes the child's pid into its cgroup.procs (on v2 contain's child is born in its
 *     cgroup, CLONE_INTO_CGROUP, so there the floor does a little more than contain asks for).
 *
 *   floor time RUNS CPU CMD [ARG...]
 *     runs CMD RUNS times in a row, this process and so CMD pinned to processor CPU, and prints the
 *     median and 90th percentile of spawn to exit, in ms (for tests/bench/startup-vm.sh, in an
 *     idle VM: its busybox has no clock finer than a second).
 *
 *   floor filter FILE [ROUNDS]
 *     what the seccomp program in FILE costs: the prctl that attaches it (inside a fresh fork, as in
 *     a start), and per call, with and without it, of getppid (allowed whatever its arguments: the
 *     kernel's cache decides it), clone with CLONE_THREAD alone, personality's query and socket of
 *     family 255 (contain's default profile checks their arguments; the kernel then fails the first
 *     and last at once, EINVAL and EAFNOSUPPORT) and keyctl (which contain's refuses; podman's
 *     profile allows clone, keyctl and, with CAP_AUDIT_WRITE, socket). Each round forks one process
 *     without the filter and one with it, in turn; the medians of ROUNDS (default 21) are printed,
 *     in ns (a refused call's "without" is the call itself running, its "with" only the filter).
 *
 * contain uses the new mount API (open_tree, move_mount, mount_setattr) where this uses mount(2):
 * the same mount table, the kernel's work (copying, attaching, flagging mounts) the same in kind;
 * `contain run -- mount` and `floor equivalent ... mount` print the same. Any failure exits 125
 * with the call named, and the parent's removes the cgroups it made. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NAMESPACES (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET)
#define MAX_CGROUPS 16

/* The cgroups the parent made so far, and the parent: a failure of the parent's removes them (a
 * child, in them, leaves them to the parent's removal once it is reaped). */
static char made[MAX_CGROUPS][256];
static int nmade;
static pid_t parent;

static void die(const char *call, const char *arg) {
    fprintf(stderr, "floor: %s(%s): %s\n", call, arg ? arg : "", strerror(errno));
    while (getpid() == parent && nmade > 0) rmdir(made[--nmade]);
    _exit(125);
}

#define CHECK(expr, call, arg) do { if ((expr) < 0) die(call, arg); } while (0)

static void do_mount(const char *src, const char *dst, const char *type, unsigned long flags, const char *data) {
    CHECK(mount(src, dst, type, flags, data), "mount", dst);
}

/* A bind mount of SRC on DST, then its flags: what open_tree + move_mount + mount_setattr do. */
static void bind_mount(const char *src, const char *dst, unsigned long rec, unsigned long attrs) {
    do_mount(src, dst, NULL, MS_BIND | rec, NULL);
    if (attrs) do_mount(NULL, dst, NULL, MS_BIND | MS_REMOUNT | attrs, NULL);
}

static int pivot_root(const char *new_root, const char *put_old) {
    return syscall(SYS_pivot_root, new_root, put_old);
}

static void bare_child(const char *rootfs, char **argv) {
    do_mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
    bind_mount(rootfs, rootfs, MS_REC, 0);
    CHECK(chdir(rootfs), "chdir", rootfs);
    CHECK(pivot_root(".", "."), "pivot_root", ".");
    CHECK(umount2(".", MNT_DETACH), "umount2", ".");
    CHECK(chdir("/"), "chdir", "/");
    do_mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    execv(argv[0], argv);
    die("execve", argv[0]);
}

static const char *const DEVICES[] = {"null", "zero", "full", "random", "urandom", "tty"};
static const char *const MASKED[] = {"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug",
                                     "/proc/latency_stats", "/proc/acpi", "/proc/scsi", "/sys/firmware"};
static const char *const READ_ONLY[] = {"/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs"};
static const int KEPT_CAPS[] = {CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID, CAP_KILL, CAP_SETGID,
                                CAP_SETUID, CAP_SETPCAP, CAP_NET_BIND_SERVICE, CAP_NET_RAW, CAP_SYS_CHROOT,
                                CAP_MKNOD, CAP_AUDIT_WRITE, CAP_SETFCAP};
#define LEN(a) (sizeof(a) / sizeof((a)[0]))

static void container_mounts(const char *rootfs) {
    char host[64], target[64];
    do_mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
    CHECK(sethostname("floor", 5), "sethostname", "floor");
    bind_mount(rootfs, rootfs, MS_REC, MS_NODEV);
    CHECK(chdir(rootfs), "chdir", rootfs);
    do_mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    do_mount("sysfs", "sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    do_mount("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_NODEV | MS_STRICTATIME, "mode=755,size=65536k");
    for (size_t i = 0; i < LEN(DEVICES); i++) {
        snprintf(host, sizeof host, "/dev/%s", DEVICES[i]);
        snprintf(target, sizeof target, "dev/%s", DEVICES[i]);
        CHECK(mknod(target, S_IFREG | 0644, 0), "mknod", target);
        bind_mount(host, target, 0, MS_RDONLY | MS_NOSUID | MS_NOEXEC);
    }
    CHECK(mkdir("dev/pts", 0755), "mkdir", "dev/pts");
    /* gid=5: contain's choice for an image with a tty group, as the busybox rootfs has */
    do_mount("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5");
    CHECK(symlink("pts/ptmx", "dev/ptmx"), "symlink", "dev/ptmx");
    CHECK(mkdir("dev/shm", 0755), "mkdir", "dev/shm");
    do_mount("tmpfs", "dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k");
    CHECK(symlink("/proc/self/fd", "dev/fd"), "symlink", "dev/fd");
    CHECK(symlink("/proc/self/fd/0", "dev/stdin"), "symlink", "dev/stdin");
    CHECK(symlink("/proc/self/fd/1", "dev/stdout"), "symlink", "dev/stdout");
    CHECK(symlink("/proc/self/fd/2", "dev/stderr"), "symlink", "dev/stderr");
    CHECK(pivot_root(".", "."), "pivot_root", ".");
    CHECK(umount2(".", MNT_DETACH), "umount2", ".");
    CHECK(chdir("/"), "chdir", "/");
}

static void masks(void) {
    struct stat st;
    for (size_t i = 0; i < LEN(MASKED); i++) {
        if (stat(MASKED[i], &st) < 0) continue;
        if (S_ISDIR(st.st_mode))
            do_mount("tmpfs", MASKED[i], "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0");
        else
            bind_mount("/dev/null", MASKED[i], 0, 0);
    }
    for (size_t i = 0; i < LEN(READ_ONLY); i++) {
        if (stat(READ_ONLY[i], &st) < 0) continue;
        bind_mount(READ_ONLY[i], READ_ONLY[i], MS_REC, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
    }
}

static void loopback_up(void) {
    struct ifreq ifr = {0};
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    CHECK(sock, "socket", "AF_INET");
    strcpy(ifr.ifr_name, "lo");
    CHECK(ioctl(sock, SIOCGIFFLAGS, &ifr), "ioctl", "SIOCGIFFLAGS");
    ifr.ifr_flags |= IFF_UP;
    CHECK(ioctl(sock, SIOCSIFFLAGS, &ifr), "ioctl", "SIOCSIFFLAGS");
    close(sock);
}

static void privileges(void) {
    unsigned long long kept = 0;
    for (size_t i = 0; i < LEN(KEPT_CAPS); i++) kept |= 1ULL << KEPT_CAPS[i];
    CHECK(prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0), "prctl", "PR_SET_KEEPCAPS");
    for (int cap = 0; cap < 64; cap++) {
        if (kept & 1ULL << cap) continue;
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
            if (errno == EINVAL) break; /* past the kernel's last capability */
            die("prctl", "PR_CAPBSET_DROP");
        }
    }
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2] = {{(__u32)kept, (__u32)kept, 0}, {(__u32)(kept >> 32), (__u32)(kept >> 32), 0}};
    CHECK(syscall(SYS_capset, &header, data), "capset", "");
    CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "prctl", "PR_CAP_AMBIENT_CLEAR_ALL");
    CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl", "PR_SET_NO_NEW_PRIVS");
    CHECK(prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0), "prctl", "PR_SET_PDEATHSIG");
}

static void attach_filter(struct sock_fprog *filter) {
    if (filter->len)
        CHECK(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, filter, 0, 0), "prctl", "PR_SET_SECCOMP");
}

/* The v1 cgroups' `tasks` files, opened by the parent for the child to join (-1: a cgroup2 one). */
static int tasks_fds[MAX_CGROUPS];

static void equivalent_child(const char *rootfs, int go, int ncgroups, struct sock_fprog *filter, char **argv) {
    char byte;
    CHECK(prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0), "prctl", "PR_SET_PDEATHSIG");
    if (read(go, &byte, 1) != 1) die("read", "go");
    for (int c = 0; c < ncgroups; c++)
        if (tasks_fds[c] >= 0) CHECK(write(tasks_fds[c], "0", 1), "write", "tasks");
    CHECK(unshare(CLONE_NEWCGROUP), "unshare", "CLONE_NEWCGROUP");
    container_mounts(rootfs);
    masks();
    loopback_up();
    privileges();
    attach_filter(filter);
    execv(argv[0], argv);
    die("execve", argv[0]);
}

static void read_filter(const char *path, struct sock_fprog *filter) {
    static struct sock_filter program[BPF_MAXINSNS];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    CHECK(fd, "open", path);
    ssize_t got = read(fd, program, sizeof program);
    CHECK(got, "read", path);
    close(fd);
    filter->len = got / sizeof(struct sock_filter);
    filter->filter = program;
}

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

#define CALLS 5
/* Each call is timed in BATCHES batches of REPEATS calls, and the fastest batch counts: on a busy
 * machine some batches are preempted, and the medians of the rounds then stay on the others. */
#define BATCHES 10
#define REPEATS 2000
static const char *const CALL_NAMES[CALLS] = {"getppid", "clone(CLONE_THREAD)", "personality(query)",
                                              "socket(255, ...)", "keyctl"};

/* ns per call of each of CALL_NAMES, the filter attached first if given; the attach's ns last. */
static void time_calls(struct sock_fprog *filter, long long out[CALLS + 1]) {
    out[CALLS] = 0;
    if (filter) {
        CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl", "PR_SET_NO_NEW_PRIVS");
        long long start = now_ns();
        attach_filter(filter);
        out[CALLS] = now_ns() - start;
    }
    for (int call = 0; call < CALLS; call++) {
        out[call] = -1;
        for (int batch = 0; batch < BATCHES; batch++) {
            long long start = now_ns();
            for (int i = 0; i < REPEATS; i++) {
                switch (call) {
                case 0: syscall(SYS_getppid); break;
                case 1: syscall(SYS_clone, CLONE_THREAD, NULL, NULL, NULL, NULL); break;
                case 2: syscall(SYS_personality, 0xffffffffUL); break;
                case 3: syscall(SYS_socket, 255, SOCK_DGRAM, 0); break;
                case 4: syscall(SYS_keyctl, 0, 0, 0, 0, 0); break;
                }
            }
            long long per_call = (now_ns() - start) / REPEATS;
            if (out[call] < 0 || per_call < out[call]) out[call] = per_call;
        }
    }
}

static int compare(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

static int filter_cost(const char *path, int rounds) {
    struct sock_fprog filter;
    long long samples[2][CALLS + 1][rounds];
    read_filter(path, &filter);
    for (int round = 0; round < rounds; round++) {
        for (int with = 0; with < 2; with++) {
            int pipefd[2];
            long long out[CALLS + 1];
            CHECK(pipe2(pipefd, O_CLOEXEC), "pipe2", "");
            pid_t child = fork();
            CHECK(child, "fork", "");
            if (child == 0) {
                time_calls(with ? &filter : NULL, out);
                _exit(write(pipefd[1], out, sizeof out) == sizeof out ? 0 : 125);
            }
            close(pipefd[1]);
            if (read(pipefd[0], out, sizeof out) != sizeof out) die("read", "a round's figures");
            close(pipefd[0]);
            CHECK(waitpid(child, NULL, 0), "waitpid", "");
            for (int i = 0; i <= CALLS; i++) samples[with][i][round] = out[i];
        }
    }
    for (int with = 0; with < 2; with++)
        for (int i = 0; i <= CALLS; i++) qsort(samples[with][i], rounds, sizeof samples[0][0][0], compare);
    int mid = rounds / 2;
    printf("%u instructions; attach (prctl PR_SET_SECCOMP in a fresh fork): %lld ns\n", filter.len,
           samples[1][CALLS][mid]);
    printf("%-24s %9s %9s %9s\n", "ns per call", "without", "with", "filter");
    for (int i = 0; i < CALLS; i++)
        printf("%-24s %9lld %9lld %9lld\n", CALL_NAMES[i], samples[0][i][mid], samples[1][i][mid],
               samples[1][i][mid] - samples[0][i][mid]);
    return 0;
}

static void write_file(const char *dir, const char *name, const char *value) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) {
        errno = ENAMETOOLONG;
        die("open", dir);
    }
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    CHECK(fd, "open", path);
    CHECK(write(fd, value, strlen(value)), "write", path);
    close(fd);
}

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int time_runs(int runs, int cpu, char **command) {
    cpu_set_t set;
    double *ms = calloc(runs > 0 ? runs : 1, sizeof *ms);
    if (!ms || runs <= 0) die("calloc", "runs");
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    CHECK(sched_setaffinity(0, sizeof set, &set), "sched_setaffinity", "CPU");
    for (int run = 0; run < runs; run++) {
        int status;
        long long start = now_ns();
        pid_t child = fork();
        CHECK(child, "fork", "");
        if (child == 0) {
            int null = open("/dev/null", O_RDWR);
            if (null >= 0) { dup2(null, 1); dup2(null, 2); }
            execv(command[0], command);
            _exit(127);
        }
        CHECK(waitpid(child, &status, 0), "waitpid", "");
        if (!WIFEXITED(status) || WEXITSTATUS(status)) die("run", command[0]);
        ms[run] = (now_ns() - start) / 1e6;
    }
    qsort(ms, runs, sizeof *ms, compare_double);
    double median = ms[runs / 2], p90 = ms[(runs * 9) / 10 < runs ? (runs * 9) / 10 : runs - 1];
    printf("%d runs on cpu %d: median %.2f ms, p90 %.2f ms, p90/median %.2f\n", runs, cpu, median, p90, p90 / median);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 5 && !strcmp(argv[1], "time"))
        return time_runs(atoi(argv[2]), atoi(argv[3]), argv + 4);
    if (argc >= 3 && !strcmp(argv[1], "filter"))
        return filter_cost(argv[2], argc > 3 ? atoi(argv[3]) : 21);
    if (argc < 4 || (strcmp(argv[1], "bare") && strcmp(argv[1], "equivalent"))) {
        fprintf(stderr, "usage: floor bare|equivalent ROOTFS [--cgroup DIR]... [--seccomp FILE] CMD [ARG...]\n"
                        "       floor filter FILE [ROUNDS]\n"
                        "       floor time RUNS CPU CMD [ARG...]\n");
        return 2;
    }
    int equivalent = !strcmp(argv[1], "equivalent");
    const char *rootfs = argv[2];
    char (*cgroups)[256] = made;
    int ncgroups = 0, i = 3;
    parent = getpid();
    struct sock_fprog filter = {0, NULL};
    for (; i + 1 < argc && equivalent; i += 2) {
        if (!strcmp(argv[i], "--cgroup") && ncgroups < MAX_CGROUPS)
            snprintf(cgroups[ncgroups++], sizeof cgroups[0], "%s/floor-%d", argv[i + 1], getpid());
        else if (!strcmp(argv[i], "--seccomp"))
            read_filter(argv[i + 1], &filter);
        else
            break;
    }
    char **command = argv + i;
    int go[2];
    for (int c = 0; c < ncgroups; c++) {
        char tasks[4096 + sizeof "/tasks"];
        CHECK(mkdir(cgroups[c], 0755), "mkdir", cgroups[c]);
        nmade = c + 1;
        snprintf(tasks, sizeof tasks, "%s/tasks", cgroups[c]);
        tasks_fds[c] = open(tasks, O_WRONLY | O_CLOEXEC);
        if (tasks_fds[c] < 0 && errno != ENOENT) die("open", tasks);
    }
    CHECK(pipe2(go, O_CLOEXEC), "pipe2", "");
    pid_t child = syscall(SYS_clone, NAMESPACES | SIGCHLD, NULL, NULL, NULL, NULL);
    CHECK(child, "clone", "five namespaces");
    if (child == 0) {
        if (equivalent) equivalent_child(rootfs, go[0], ncgroups, &filter, command);
        bare_child(rootfs, command);
    }
    if (equivalent) {
        char pid[16];
        snprintf(pid, sizeof pid, "%d", child);
        for (int c = 0; c < ncgroups; c++)
            if (tasks_fds[c] < 0) write_file(cgroups[c], "cgroup.procs", pid);
        CHECK(write(go[1], "g", 1), "write", "go");
    }
    int status;
    CHECK(waitpid(child, &status, 0), "waitpid", "");
    for (; nmade > 0; nmade--) CHECK(rmdir(cgroups[nmade - 1]), "rmdir", cgroups[nmade - 1]);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
