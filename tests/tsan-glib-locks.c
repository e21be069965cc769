/* tsan-glib-locks.c: preloaded into ThreadSanitizer runs (tests/run-tsan.sh)
 * to tell TSan where Confab's own GMutex and GCond calls order memory.
 * GLib is not built with -fsanitize=thread and its GMutex is a futex, which
 * TSan cannot see: every hand-over under a GMutex (the media sender's
 * mailbox, the relay's NATS queue) read as a data race. This wraps the
 * calls made from outside GLib (found with dlsym (RTLD_NEXT)); GLib's calls
 * to itself bind inside GLib and stay invisible (tests/tsan.supp). Built only
 * with -Db_sanitize=thread; in a process without TSan it only forwards. */
#define G_LOG_DOMAIN "tsan-glib-locks"

#include <dlfcn.h>
#include <glib.h>

/* Weak: a process without the TSan runtime (a tool the tests start) still
 * loads this. */
extern void __tsan_acquire (void *addr) __attribute__ ((weak));
extern void __tsan_release (void *addr) __attribute__ ((weak));

static void
acquire (void *addr)
{
  if (__tsan_acquire != NULL)
    __tsan_acquire (addr);
}

static void
release (void *addr)
{
  if (__tsan_release != NULL)
    __tsan_release (addr);
}

/* The real function, looked up once (a race on the cache stores the same
 * pointer; this file is not instrumented). */
#define REAL(type, name)                                                                           \
  static type real_##name;                                                                         \
  if (__atomic_load_n (&real_##name, __ATOMIC_ACQUIRE) == NULL)                                    \
    __atomic_store_n (&real_##name, (type) dlsym (RTLD_NEXT, #name), __ATOMIC_RELEASE);

typedef void (*MutexFunc) (GMutex *);
typedef gboolean (*MutexTryFunc) (GMutex *);
typedef void (*RecMutexFunc) (GRecMutex *);
typedef void (*CondWaitFunc) (GCond *, GMutex *);
typedef gboolean (*CondWaitUntilFunc) (GCond *, GMutex *, gint64);

void
g_mutex_lock (GMutex *mutex)
{
  REAL (MutexFunc, g_mutex_lock);
  real_g_mutex_lock (mutex);
  acquire (mutex);
}

gboolean
g_mutex_trylock (GMutex *mutex)
{
  gboolean locked;

  REAL (MutexTryFunc, g_mutex_trylock);
  locked = real_g_mutex_trylock (mutex);
  if (locked)
    acquire (mutex);
  return locked;
}

void
g_mutex_unlock (GMutex *mutex)
{
  REAL (MutexFunc, g_mutex_unlock);
  release (mutex);
  real_g_mutex_unlock (mutex);
}

void
g_rec_mutex_lock (GRecMutex *mutex)
{
  REAL (RecMutexFunc, g_rec_mutex_lock);
  real_g_rec_mutex_lock (mutex);
  acquire (mutex);
}

void
g_rec_mutex_unlock (GRecMutex *mutex)
{
  REAL (RecMutexFunc, g_rec_mutex_unlock);
  release (mutex);
  real_g_rec_mutex_unlock (mutex);
}

/* The wait lets go of the mutex and takes it again. */
void
g_cond_wait (GCond *cond, GMutex *mutex)
{
  REAL (CondWaitFunc, g_cond_wait);
  release (mutex);
  real_g_cond_wait (cond, mutex);
  acquire (mutex);
}

gboolean
g_cond_wait_until (GCond *cond, GMutex *mutex, gint64 end_time)
{
  gboolean woken;

  REAL (CondWaitUntilFunc, g_cond_wait_until);
  release (mutex);
  woken = real_g_cond_wait_until (cond, mutex, end_time);
  acquire (mutex);
  return woken;
}
