# e2e-check.jq: judges one profile of the end-to-end container test
# (run.sh runs it on the host). Prints one problem per line; nothing when the
# profile is right.
#
#   jq -r -f e2e-check.jq --arg kind run|hook --arg mode MODE --arg kernel KVER
#      --arg image IMAGE --arg interp PATH --arg interp_link PATH --arg libc PATH
#      --slurpfile imagefiles FILES.json PROFILE.json
#
# FILES.json holds one array: every path in the test image ("/bin/dash", ...).

# Paths only the host or the runtime has: none may be in a container's profile.
def forbidden: "^/run/runc|exec\\.fifo|overlay|merged|^/proc/1/|^/proc/self/|^/var/lib/containers|^/run/containers|/userdata|^/usr/bin/(podman|conmon)|^/usr/sbin/runc|^/usr/local/bin/podprof|^/e2e/|^/bpf\\.test|^/pkg/|^/newroot";
# What podman itself puts in a container besides the image.
def runtime_files: ["/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/run/.containerenv"];

(.files // []) as $files
| ($imagefiles[0] | map({(.): true}) | add) as $inimage
| def entry($p): [$files[] | select(.path == $p)] | first;
  # need(PATHS; FLAG; WHAT): one of PATHS is recorded with FLAG set
  def need($paths; $flag; $what):
    ([$paths[] as $p | entry($p) | select(. != null)] | first) as $e
    | if $e == null then "\($what) \($paths | join(" or ")) is not in the profile"
      elif $e[$flag] != true then "\($what) \($e.path) is in the profile but not with \($flag)=true"
      else empty end;
  def need_comm($p; $comm):
    entry($p) as $e
    | if $e != null and $e.comm != $comm then "\($p) was opened by comm \($e.comm | tojson), want \($comm | tojson)" else empty end;
  # tracepoint paths are as the program passed them: links may be unresolved
  def maybe_link($resolved; $link): if $mode == "tracepoint" then [$resolved, $link] else [$resolved] end;

  (if .version != 1 then "version is \(.version | tojson), want 1" else empty end),
  (if .tracer != $mode then "tracer is \(.tracer | tojson), want \($mode | tojson)" else empty end),
  (if .kernel != $kernel then "kernel is \(.kernel | tojson), want \($kernel | tojson)" else empty end),
  (if .lost_events != 0 then "lost_events is \(.lost_events | tojson), want 0" else empty end),
  (if (.image.name // "") != $image then "image.name is \(.image.name | tojson), want \($image | tojson)" else empty end),
  (if ((.image.id // "") | test("^[0-9a-f]{64}$")) | not then "image.id is \(.image.id | tojson), want 64 hex digits" else empty end),
  (if ((.container.id // "") | test("^[0-9a-f]{64}$")) | not then "container.id is \(.container.id | tojson), want 64 hex digits" else empty end),
  (if (.container.name // "") == "" then "container.name is empty" else empty end),
  (if ($files | length) == 0 then "no files recorded" else empty end),
  (if $kind == "run" then
     need(maybe_link("/bin/busybox"; "/bin/sh"); "exec"; "the container's shell"),
     need(["/etc/e2e/sh-read"]; "read"; "the file cat read")
   else empty end),
  need(["/bin/dash"]; "exec"; "the dynamic binary"),
  need(maybe_link($interp; $interp_link); "exec"; "its ELF interpreter"),
  need([$libc]; "read"; "its libc"),
  need(["/etc/e2e/dash-read"]; "read"; "the file dash read"),
  need_comm("/etc/e2e/dash-read"; "dash"),
  ($files[] | .path | select(test(forbidden)) | "runtime or host path recorded: \(.)"),
  ($files[] | .path | select((test(forbidden) | not) and $inimage[.] == null and (test("^/(dev|proc|sys)/") | not) and (. as $p | runtime_files | index($p)) == null)
   | "path is neither in the image nor one podman adds: \(.)"),
  ($files[] | select(.path | startswith("/") | not) | "relative path recorded: \(.path)")
