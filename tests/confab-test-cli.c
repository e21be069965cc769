/* confab-test-cli.c: the real confab-cli as a subprocess of a test. */
#define G_LOG_DOMAIN "confab-test"

#include "confab-test-cli.h"
#include "confab-test-util.h"

void
confab_test_cli_free (ConfabTestCli *run)
{
  if (run == NULL)
    return;
  g_clear_object (&run->process);
  g_clear_object (&run->parser);
  g_free (run->out);
  g_free (run->err);
  g_free (run);
}

static void
on_communicated (GObject *source, GAsyncResult *result, gpointer data)
{
  ConfabTestCli *run = data;

  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), result, &run->out, &run->err, NULL);
  run->status =
      g_subprocess_get_if_exited (run->process) ? g_subprocess_get_exit_status (run->process) : -1;
  run->done = TRUE;
}

ConfabTestCli *
confab_test_cli_startv (const char *const *args)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;
  ConfabTestCli *run = g_new0 (ConfabTestCli, 1);

  g_ptr_array_add (argv, (char *) confab_test_cli_path ());
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);
  run->process =
      confab_test_spawnv ((const char *const *) argv->pdata,
                          G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8_async (run->process, NULL, NULL, on_communicated, run);
  return run;
}

ConfabTestCli *
confab_test_cli_start (const char *first, ...)
{
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  va_list ap;

  va_start (ap, first);
  for (const char *arg = first; arg != NULL; arg = va_arg (ap, const char *))
    g_ptr_array_add (args, (char *) arg);
  va_end (ap);
  g_ptr_array_add (args, NULL);
  return confab_test_cli_startv ((const char *const *) args->pdata);
}

static gboolean
all_done (ConfabTestCli **runs)
{
  for (guint i = 0; runs[i] != NULL; i++)
    if (!runs[i]->done)
      return FALSE;
  return TRUE;
}

static void
parse_summary (ConfabTestCli *run)
{
  g_auto (GStrv) lines = NULL;
  guint n;

  if (run->err != NULL && run->err[0] != '\0')
    g_test_message ("stderr: %s", run->err);
  lines = g_strsplit (g_strchomp (run->out), "\n", -1);
  n = g_strv_length (lines);
  if (n == 0 || lines[n - 1][0] != '{')
    return;
  g_test_message ("summary: %s", lines[n - 1]);
  run->parser = json_parser_new ();
  if (json_parser_load_from_data (run->parser, lines[n - 1], -1, NULL) &&
      JSON_NODE_HOLDS_OBJECT (json_parser_get_root (run->parser)))
    run->summary = json_node_get_object (json_parser_get_root (run->parser));
}

static gboolean
on_deadline (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

void
confab_test_cli_wait_all (ConfabTestCli **runs, guint timeout_ms)
{
  gboolean expired = FALSE;
  guint deadline = g_timeout_add (timeout_ms, on_deadline, &expired);

  while (!all_done (runs) && !expired)
    g_main_context_iteration (NULL, TRUE);
  if (!expired)
    g_source_remove (deadline);
  for (guint i = 0; runs[i] != NULL; i++)
    {
      if (!runs[i]->done)
        {
          g_subprocess_force_exit (runs[i]->process);
          g_error ("confab-cli did not finish within %u ms", timeout_ms);
        }
      parse_summary (runs[i]);
    }
}

void
confab_test_cli_wait (ConfabTestCli *run, guint timeout_ms)
{
  ConfabTestCli *runs[] = { run, NULL };

  confab_test_cli_wait_all (runs, timeout_ms);
}

JsonObject *
confab_test_summary_peer (JsonObject *summary, const char *user_id)
{
  JsonArray *peers = json_object_get_array_member (summary, "peers");

  if (user_id == NULL)
    {
      g_assert_cmpuint (json_array_get_length (peers), ==, 1);
      return json_array_get_object_element (peers, 0);
    }
  for (guint i = 0; i < json_array_get_length (peers); i++)
    {
      JsonObject *peer = json_array_get_object_element (peers, i);

      if (g_strcmp0 (json_object_get_string_member (peer, "user_id"), user_id) == 0)
        return peer;
    }
  return NULL;
}

guint64
confab_test_json_session_id (JsonObject *object)
{
  return (guint64) json_node_get_int (json_object_get_member (object, "session_id"));
}

char *
confab_test_unique_room (const char *prefix)
{
  return g_strdup_printf ("%s-%08x", prefix, g_random_int ());
}
