/* confab-test-cli.h: runs the real confab-cli from a test and reads the JSON
 * summary it prints on its last line of stdout. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef struct
{
  GSubprocess *process;
  char *out;
  char *err;
  gboolean done;
  int status; /* exit status, -1 when killed by a signal */
  JsonParser *parser;
  JsonObject *summary; /* the last stdout line as JSON, or NULL */
} ConfabTestCli;

/* Starts $CONFAB_CLI with the given arguments (after the program name). */
ConfabTestCli *confab_test_cli_start (const char *first, ...) G_GNUC_NULL_TERMINATED;
ConfabTestCli *confab_test_cli_startv (const char *const *args);
/* Waits (bounded; a run still going then is killed and the test fails) for
 * every run of the NULL-terminated @runs, then parses each one's summary. */
void confab_test_cli_wait_all (ConfabTestCli **runs, guint timeout_ms);
void confab_test_cli_wait (ConfabTestCli *run, guint timeout_ms);
void confab_test_cli_free (ConfabTestCli *run);

/* The first peer of @summary whose user_id is @user_id, or NULL; with
 * @user_id NULL the one and only peer (asserted). */
JsonObject *confab_test_summary_peer (JsonObject *summary, const char *user_id);
/* A summary's or peer's "session_id" (a u64 written as a JSON number). */
guint64 confab_test_json_session_id (JsonObject *object);
/* A room name no other test run uses. */
char *confab_test_unique_room (const char *prefix);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConfabTestCli, confab_test_cli_free)

G_END_DECLS
