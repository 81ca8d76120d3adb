/* The fork-and-exec floor for the session-rate benchmark (bench/bench.py): the least an
 * FTP server started by xinetd can do for connect, anonymous login, PWD, QUIT. It answers
 * from descriptor 0/1 (the connection xinetd hands over) without parsing beyond the
 * command's first four letters, no privilege separation, no configuration. */
#include <string.h>
#include <unistd.h>

static void say(const char *s) { (void)!write(1, s, strlen(s)); }

int main(void) {
    char buf[1024];
    size_t have = 0;
    say("220 Bench.\r\n");
    for (;;) {
        ssize_t r = read(0, buf + have, sizeof buf - have);
        if (r <= 0)
            return 0;
        have += (size_t)r;
        char *nl;
        while ((nl = memchr(buf, '\n', have)) != NULL) {
            if (have >= 4 && strncasecmp(buf, "USER", 4) == 0)
                say("331 Please specify the password.\r\n");
            else if (strncasecmp(buf, "PASS", 4) == 0)
                say("230 Login successful.\r\n");
            else if (strncasecmp(buf, "PWD", 3) == 0)
                say("257 \"/\" is the current directory\r\n");
            else if (strncasecmp(buf, "QUIT", 4) == 0) {
                say("221 Goodbye.\r\n");
                return 0;
            } else
                say("500 Unknown command.\r\n");
            size_t used = (size_t)(nl + 1 - buf);
            memmove(buf, nl + 1, have - used);
            have -= used;
        }
        if (have == sizeof buf)
            return 0;
    }
}
