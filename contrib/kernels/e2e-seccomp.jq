# e2e-seccomp.jq: judges the seccomp profile a run of the end-to-end
# container test recorded, and the negative control's copy of it (run.sh
# runs it on the host). Prints one problem per line; nothing when both are
# right.
#
#   jq -r -f e2e-seccomp.jq --slurpfile denied DENIED.json SECCOMP.json
#
# DENIED.json is the negative control's profile, or an empty file in the
# modes that run no negative control.

# What the run's busybox sh surely calls and no OCI runtime needs (so only
# the recording can have allowed them): pipe2 for $(cat ...), wait4 for cat
# and dash, exit_group for "exit 3".
def workload_calls: ["pipe2", "wait4", "exit_group"];

def allowed: [.syscalls[]? | select(.action == "SCMP_ACT_ALLOW") | .names[]?] | unique;
def recorded: [.syscalls[]? | select(.comment == "recorded by podprof") | .names[]?] | unique;

. as $profile
| (if .defaultAction != "SCMP_ACT_ERRNO" or .defaultErrnoRet != 38
   then "default action \(.defaultAction) errno \(.defaultErrnoRet), want SCMP_ACT_ERRNO with ENOSYS (38), as podman's default profile"
   else empty end),
  (if (.architectures // []) | index("SCMP_ARCH_X86_64") == null
   then "architectures \(.architectures // [] | tojson) lack SCMP_ARCH_X86_64"
   else empty end),
  (recorded as $recorded
   | if $recorded == [] then "no rule \"recorded by podprof\": nothing was recorded"
     else workload_calls[] | select(. as $call | $recorded | index($call) == null)
       | "\(.), which the workload made, is not recorded (recorded: \($recorded | join(" ")))"
     end),
  ($denied[0] // empty
   | (($profile | allowed) - allowed) as $taken
   | (allowed - ($profile | allowed)) as $added
   | if ($taken | length) != 1 or (workload_calls | index($taken[0])) == null or $added != []
     then "the negative control's profile is not the recorded one without one of the workload's calls: it lacks \($taken | tojson) and adds \($added | tojson)"
     else empty end)
