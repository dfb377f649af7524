// githarden.c -- git as the harness runs it: without hooks, fsmonitor, signing, replace
// objects or the system config (git_harden), and a refusal of repository config that runs
// programs or hides changes (git_config_problem). integrity.c checks the content.
#include "harness.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ----------------------------------------------------------------------------
// git, hardened

void git_harden(void) {
    // Every git the harness runs (and so every child's) skips hooks and fsmonitor, never signs
    // (gpg.program is a command), and sees neither replace objects nor the system config.
    static const char *kv[][2] = {{"core.hooksPath", "/dev/null"}, {"core.fsmonitor", "false"},
                                  {"commit.gpgSign", "false"}, {"core.untrackedCache", "false"}};
    const char *c = getenv("GIT_CONFIG_COUNT");
    int n = c ? atoi(c) : 0;
    for (size_t i = 0; i < sizeof kv / sizeof *kv; i++, n++) {
        char k[48], v[48];
        snprintf(k, sizeof k, "GIT_CONFIG_KEY_%d", n);
        snprintf(v, sizeof v, "GIT_CONFIG_VALUE_%d", n);
        setenv(k, kv[i][0], 1);
        setenv(v, kv[i][1], 1);
    }
    char cnt[16];
    snprintf(cnt, sizeof cnt, "%d", n);
    setenv("GIT_CONFIG_COUNT", cnt, 1);
    setenv("GIT_NO_REPLACE_OBJECTS", "1", 1);
    setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
    setenv("GIT_TERMINAL_PROMPT", "0", 1);
    unsetenv("GIT_EXTERNAL_DIFF");
}

// Is this repository-level config key one that runs a program or hides changes?
static int dangerous_key(const char *k, const char *v) {
    if (!strcmp(k, "core.fsmonitor"))
        return strcmp(v, "false") && strcmp(v, "0") && strcmp(v, "no") && strcmp(v, "off") && *v;
    static const char *exact[] = {"core.hookspath", "core.worktree", "core.alternaterefscommand",
                                  "core.attributesfile", "diff.external", "core.sshcommand", NULL};
    for (int i = 0; exact[i]; i++)
        if (!strcmp(k, exact[i])) return 1;
    if (!strncmp(k, "filter.", 7)) {   // clean/smudge filters run on add and checkout
        const char *dot = strrchr(k, '.');
        return !strcmp(dot, ".clean") || !strcmp(dot, ".smudge") || !strcmp(dot, ".process");
    }
    return 0;
}

int git_config_problem(char *why, size_t n) {
    const char *argv[] = {"git", "config", "--list", "--show-scope", "-z", NULL};
    char *out;
    size_t len;
    if (cmd_io(argv, NULL, 0, &out, &len) != 0) {
        free(out);
        snprintf(why, n, "cannot read the repository's git config (git config --list)");
        return 1;
    }
    int bad = 0;
    // entries: scope NUL key LF value NUL
    for (size_t i = 0; i < len && !bad;) {
        const char *scope = out + i;
        i += strlen(scope) + 1;
        if (i >= len) break;
        char *key = out + i;
        i += strlen(key) + 1;
        char *lf = strchr(key, '\n');
        const char *val = lf ? lf + 1 : "";
        if (lf) *lf = 0;
        // the user's global config is overridden by git_harden; the repository's own config
        // (which an agent can write) must not even try
        if ((!strcmp(scope, "local") || !strcmp(scope, "worktree")) && dangerous_key(key, val)) {
            snprintf(why, n, "the repository's git config sets %s (%s): the harness refuses config "
                     "that runs programs or hides changes; remove it (git config --unset %s)", key, val, key);
            bad = 1;
        }
    }
    free(out);
    return bad;
}
