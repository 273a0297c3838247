/*
 * The raw argon2id rate: what the hardware can do without nginx, HTTP or
 * PostgreSQL.  The baseline of `make bench` for login and register.
 *
 *   argon2_rate [-T threads] [-m KiB] [-t iterations] [-p lanes]
 *               [-d seconds | -n count] [-H]
 *   argon2_rate -e [-m KiB] [-t iterations] [-p lanes] < password
 *
 * Default: each of T threads runs argon2id_verify() (what a login does:
 * one verify = one hash-equivalent) against an encoded hash made with the
 * same parameters and the module's salt/tag lengths (16/32 bytes), until
 * the deadline (-d, default 5 s) or until -n verifies were done in all.
 * -H hashes instead (argon2id_hash_encoded with a fresh salt, what
 * register does).  Prints one machine-readable line:
 *
 *   BENCH ops=N seconds=S rate=R threads=T m=M t=I p=P mode=verify
 *         cpu_us_per_op=C
 *
 * (C: the process's user + system CPU time per operation, which a machine
 * busy with other work changes much less than the rate.)
 *
 * -e prints the PHC string of the password read from stdin (for seeding
 * users with one precomputed hash).
 */

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <argon2.h>


#define SALT_LEN  16
#define TAG_LEN   32


static uint32_t         m_cost = 19456, t_cost = 2, lanes = 1;
static int              hash_mode;
static double           deadline;               /* monotonic seconds */
static long             limit;                  /* 0: no count limit */
static atomic_long      started;
static atomic_long      done_ops;
static atomic_int       failed;
static char            *encoded;
static const char       password[] = "bench-password-1";


static double
now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


static int
make_hash(const char *pw, size_t len, char *out, size_t cap)
{
    unsigned char  salt[SALT_LEN];

    if (getrandom(salt, sizeof(salt), 0) != (ssize_t) sizeof(salt)) {
        return -1;
    }

    return argon2id_hash_encoded(t_cost, m_cost, lanes, pw, len,
                                 salt, sizeof(salt), TAG_LEN, out, cap)
           == ARGON2_OK ? 0 : -1;
}


static void *
worker(void *arg)
{
    int      rc;
    size_t   cap;
    char    *out;
    double  *end;

    end = arg;
    cap = argon2_encodedlen(t_cost, m_cost, lanes, SALT_LEN, TAG_LEN,
                            Argon2_id);
    out = malloc(cap);

    if (out == NULL) {
        atomic_store(&failed, 1);
        return NULL;
    }

    for ( ;; ) {
        if (limit) {
            if (atomic_fetch_add(&started, 1) >= limit) {
                break;
            }

        } else if (now() >= deadline) {
            break;
        }

        if (hash_mode) {
            rc = make_hash(password, sizeof(password) - 1, out, cap);

        } else {
            rc = argon2id_verify(encoded, password, sizeof(password) - 1)
                 == ARGON2_OK ? 0 : -1;
        }

        if (rc != 0) {
            atomic_store(&failed, 1);
            break;
        }

        atomic_fetch_add(&done_ops, 1);
    }

    *end = now();
    free(out);

    return NULL;
}


static void
usage(void)
{
    fprintf(stderr,
            "usage: argon2_rate [-T threads] [-m KiB] [-t iterations] "
            "[-p lanes] [-d seconds | -n count] [-H]\n"
            "       argon2_rate -e [-m KiB] [-t iterations] [-p lanes] "
            "< password\n");
    exit(2);
}


int
main(int argc, char **argv)
{
    int         c, i, threads, encode_only;
    char        buf[4096];
    size_t      n, cap;
    double      seconds, start, last, cpu, cpu0, *ends;
    pthread_t  *tids;
    struct rusage  ru;

    threads = 2;
    seconds = 5;
    encode_only = 0;

    while ((c = getopt(argc, argv, "T:m:t:p:d:n:He")) != -1) {
        switch (c) {
        case 'T': threads = atoi(optarg); break;
        case 'm': m_cost = (uint32_t) strtoul(optarg, NULL, 10); break;
        case 't': t_cost = (uint32_t) strtoul(optarg, NULL, 10); break;
        case 'p': lanes = (uint32_t) strtoul(optarg, NULL, 10); break;
        case 'd': seconds = atof(optarg); break;
        case 'n': limit = atol(optarg); break;
        case 'H': hash_mode = 1; break;
        case 'e': encode_only = 1; break;
        default: usage();
        }
    }

    if (threads < 1 || threads > 1024 || seconds <= 0 || limit < 0
        || m_cost < 8 * lanes || t_cost < 1 || lanes < 1)
    {
        usage();
    }

    cap = argon2_encodedlen(t_cost, m_cost, lanes, SALT_LEN, TAG_LEN,
                            Argon2_id);
    encoded = malloc(cap);

    if (encoded == NULL) {
        return 1;
    }

    if (encode_only) {
        n = fread(buf, 1, sizeof(buf) - 1, stdin);
        while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
            n--;
        }

        if (make_hash(buf, n, encoded, cap) != 0) {
            fprintf(stderr, "argon2_rate: hashing failed\n");
            return 1;
        }

        printf("%s\n", encoded);
        return 0;
    }

    if (make_hash(password, sizeof(password) - 1, encoded, cap) != 0) {
        fprintf(stderr, "argon2_rate: hashing failed\n");
        return 1;
    }

    tids = calloc(threads, sizeof(pthread_t));
    ends = calloc(threads, sizeof(double));

    if (tids == NULL || ends == NULL) {
        return 1;
    }

    getrusage(RUSAGE_SELF, &ru);
    cpu0 = ru.ru_utime.tv_sec * 1e6 + ru.ru_utime.tv_usec
           + ru.ru_stime.tv_sec * 1e6 + ru.ru_stime.tv_usec;

    start = now();
    deadline = start + seconds;

    for (i = 0; i < threads; i++) {
        errno = pthread_create(&tids[i], NULL, worker, &ends[i]);
        if (errno) {
            perror("argon2_rate: pthread_create");
            return 1;
        }
    }

    last = start;

    for (i = 0; i < threads; i++) {
        pthread_join(tids[i], NULL);
        if (ends[i] > last) {
            last = ends[i];
        }
    }

    if (atomic_load(&failed)) {
        fprintf(stderr, "argon2_rate: argon2 call failed\n");
        return 1;
    }

    /* rate over the time until the last thread finished its last call */

    getrusage(RUSAGE_SELF, &ru);
    cpu = ru.ru_utime.tv_sec * 1e6 + ru.ru_utime.tv_usec
          + ru.ru_stime.tv_sec * 1e6 + ru.ru_stime.tv_usec - cpu0;

    printf("BENCH ops=%ld seconds=%.3f rate=%.2f threads=%d m=%u t=%u p=%u "
           "mode=%s cpu_us_per_op=%.0f\n", atomic_load(&done_ops),
           last - start, atomic_load(&done_ops) / (last - start), threads,
           m_cost, t_cost, lanes, hash_mode ? "hash" : "verify",
           atomic_load(&done_ops) ? cpu / atomic_load(&done_ops) : 0.0);

    return 0;
}
