/* lib/qemu_argv.c, table-driven: a domain definition -> the QEMU command
 * line (substrings that must and must not appear), or the one error that
 * names what cannot be translated. Nothing is started. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "domain_def.h"
#include "mem.h"
#include "path.h"
#include "qemu_argv.h"
#include "tap.h"

#define HEAD(type) "<domain type='" type "'><name>t</name><uuid>11111111-2222-3333-4444-555555555555</uuid>" \
    "<memory unit='KiB'>32768</memory>"
#define OS "<os><type arch='x86_64'>hvm</type></os>"
#define DISK(tgt, bus) "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>" \
    "<source file='/img/" tgt ".qcow2'/><target dev='" tgt "' bus='" bus "'/></disk>"

typedef struct tcase {
    const char *what;
    const char *xml;
    bool kvm_ok;
    const char *want[8];      /* substrings of the joined argv ("|" between words) */
    const char *unwanted[4];
    const char *error;        /* substring of the error, or NULL for success */
} tcase;

static const tcase cases[] = {
    { "minimal domain: TCG, -S, monitor on fd 3, pid file, blockdev pair, no defaults",
      HEAD("qemu") OS "<devices>" DISK("vda", "virtio") "</devices></domain>", false,
      { "qemu-system-x86_64|-name|guest=t,debug-threads=on|-S|-no-user-config|-nodefaults",
        "-machine|pc,accel=tcg,acpi=off|", "-m|size=32768k|-smp|1|",
        "-chardev|socket,id=charmonitor,fd=3,server=on,wait=off|-mon|chardev=charmonitor,id=monitor,mode=control",
        "-pidfile|/run/t/pid|",
        "{\"driver\":\"file\",\"filename\":\"/img/vda.qcow2\",\"node-name\":\"vsnap-vda-0-storage\",\"auto-read-only\":true}",
        "{\"node-name\":\"vsnap-vda-0-format\",\"driver\":\"qcow2\",\"file\":\"vsnap-vda-0-storage\",\"read-only\":false}",
        "-device|virtio-blk-pci,drive=vsnap-vda-0-format,id=vda|" },
      { "-no-shutdown", "accel=kvm" }, NULL },
    { "kvm domain where /dev/kvm works: KVM",
      HEAD("kvm") "<os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os><features><acpi/></features></domain>",
      true, { "-machine|pc-q35-7.2,accel=kvm|" }, { "acpi=off" }, NULL },
    { "kvm domain without /dev/kvm: refused, with the way out",
      HEAD("kvm") OS "</domain>", false, { NULL }, { NULL },
      "<domain type='kvm'> needs /dev/kvm, which cannot be used here; use <domain type='qemu'>" },
    { "emulator, vcpus with current, topology, cpu model and features",
      HEAD("qemu") "<vcpu placement='static' current='2'>4</vcpu>" OS
      "<cpu mode='custom' match='exact' check='none'><model fallback='forbid'>qemu64</model>"
      "<feature policy='require' name='lahf_lm'/><feature policy='disable' name='svm'/>"
      "<topology sockets='1' cores='2' threads='2'/></cpu>"
      "<devices><emulator>/opt/qemu/bin/qemu-system-x86_64</emulator></devices></domain>", false,
      { "/opt/qemu/bin/qemu-system-x86_64|-name", "-smp|2,maxcpus=4,sockets=1,cores=2,threads=2|",
        "-cpu|qemu64,lahf_lm=on,svm=off|" }, { NULL }, NULL },
    { "memory units",
      "<domain type='qemu'><name>t</name><memory unit='MiB'>64</memory>" OS "</domain>", false,
      { "-m|size=65536k|" }, { NULL }, NULL },
    { "os boot order goes to the first cdrom and the first disk",
      HEAD("qemu") "<os><type arch='x86_64'>hvm</type><boot dev='cdrom'/><boot dev='hd'/><bootmenu enable='yes'/></os>"
      "<devices>" DISK("vda", "virtio") DISK("vdb", "virtio")
      "<disk type='file' device='cdrom'><driver name='qemu' type='raw'/><source file='/iso/x.iso'/>"
      "<target dev='hdc' bus='ide'/><readonly/></disk></devices></domain>", false,
      { "-boot|menu=on,strict=on", "virtio-blk-pci,drive=vsnap-vda-0-format,id=vda,bootindex=2|",
        "virtio-blk-pci,drive=vsnap-vdb-0-format,id=vdb|",
        "ide-cd,bus=ide.1,unit=0,drive=vsnap-hdc-0-format,id=hdc,bootindex=1|",
        "\"filename\":\"/iso/x.iso\",\"node-name\":\"vsnap-hdc-0-storage\",\"auto-read-only\":true,\"read-only\":true" },
      { NULL }, NULL },
    { "per-device boot order",
      HEAD("qemu") OS "<devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
      "<source file='/img/a'/><target dev='vda' bus='virtio'/><boot order='3'/></disk></devices></domain>", false,
      { "id=vda,bootindex=3|" }, { NULL }, NULL },
    { "UEFI: pflash code read-only, variables from the template",
      HEAD("qemu") "<os><type arch='x86_64' machine='q35'>hvm</type>"
      "<loader readonly='yes' type='pflash'>/fw/OVMF_CODE.fd</loader>"
      "<nvram template='/fw/OVMF_VARS.fd'>/var/nvram/t_VARS.fd</nvram></os></domain>", false,
      { "q35,accel=tcg,acpi=off,pflash0=vsnap-pflash0-format,pflash1=vsnap-pflash1-format|",
        "{\"driver\":\"file\",\"filename\":\"/fw/OVMF_CODE.fd\",\"node-name\":\"vsnap-pflash0-storage\",\"read-only\":true}",
        "{\"driver\":\"file\",\"filename\":\"/var/nvram/t_VARS.fd\",\"node-name\":\"vsnap-pflash1-storage\"}" },
      { NULL }, NULL },
    { "block device, read-only virtio disk, cache none, discard",
      HEAD("qemu") OS "<devices><disk type='block' device='disk'><driver name='qemu' type='raw' cache='none' discard='unmap'/>"
      "<source dev='/dev/vg/lv'/><target dev='vdb' bus='virtio'/><readonly/><serial>S1,2</serial></disk></devices></domain>", false,
      { "{\"driver\":\"host_device\",\"filename\":\"/dev/vg/lv\",\"node-name\":\"vsnap-vdb-0-storage\",\"auto-read-only\":true,\"read-only\":true,\"cache\":{\"direct\":true,\"no-flush\":false},\"discard\":\"unmap\"}",
        "\"driver\":\"raw\"", "id=vdb,serial=S1,,2|" }, { NULL }, NULL },
    { "sata on a PC gets an AHCI controller; scsi a SCSI controller",
      HEAD("qemu") OS "<devices>" DISK("sda", "sata") DISK("sdb", "scsi")
      "<controller type='scsi' index='0' model='virtio-scsi'/></devices></domain>", false,
      { "-device|virtio-scsi-pci,id=scsi0|", "-device|ahci,id=sata0|",
        "ide-hd,bus=sata0.0,drive=vsnap-sda-0-format,id=sda|",
        "scsi-hd,bus=scsi0.0,channel=0,scsi-id=0,lun=1,drive=vsnap-sdb-0-format,id=sdb|" },
      { "lsi53c895a" }, NULL },
    { "sata on q35 uses the built-in controller; an empty cdrom has no drive",
      HEAD("qemu") "<os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os><devices>" DISK("sdb", "sata")
      "<disk type='file' device='cdrom'><target dev='sda' bus='sata'/><readonly/></disk></devices></domain>", false,
      { "ide-hd,bus=ide.1,drive=vsnap-sdb-0-format,id=sdb|", "ide-cd,bus=ide.0,id=sda|" },
      { "ahci", "vsnap-sda-0" }, NULL },
    { "user networking with a MAC and a PCI address; console alias of serial 0 to a log",
      HEAD("qemu") OS "<devices><interface type='user'><mac address='52:54:00:12:34:56'/><model type='virtio'/>"
      "<address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/></interface>"
      "<serial type='pty'><target type='isa-serial' port='0'><model name='isa-serial'/></target></serial>"
      "<console type='pty'><target type='serial' port='0'/></console></devices></domain>", false,
      { "-netdev|user,id=hostnet0|-device|virtio-net-pci,netdev=hostnet0,id=net0,mac=52:54:00:12:34:56,bus=pci.0,addr=0x5|",
        "-chardev|" "file,id=charserial0,path=/run/t/serial0.log|-device|isa-serial,chardev=charserial0,id=serial0,index=0|" },
      { "charserial1" }, NULL },
    { "bridge networking",
      HEAD("qemu") OS "<devices><interface type='bridge'><source bridge='br0'/></interface></devices></domain>", false,
      { "-netdev|" "bridge,id=hostnet0,br=br0|-device|rtl8139,netdev=hostnet0,id=net0|" }, { NULL }, NULL },
    { "libvirt network: its bridge, read from libvirt's definition",
      HEAD("qemu") OS "<devices><interface type='network'><source network='default'/><model type='e1000'/></interface></devices></domain>", false,
      { "-netdev|" "bridge,id=hostnet0,br=virbr7|-device|" "e1000,netdev=hostnet0,id=net0|" }, { NULL }, NULL },
    { "libvirt network without a definition: refused with the way out",
      HEAD("qemu") OS "<devices><interface type='network'><source network='nosuch'/></interface></devices></domain>", false,
      { NULL }, { NULL }, "libvirt's network 'nosuch' has no bridge vsnap can find" },
    { "VNC on any free port with a password, a video card",
      HEAD("qemu") OS "<devices><graphics type='vnc' port='-1' autoport='yes' listen='0.0.0.0' passwd='s3cr3t'>"
      "<listen type='address' address='0.0.0.0'/></graphics><video><model type='cirrus' vram='16384' heads='1' primary='yes'/></video></devices></domain>", false,
      { "-vnc|" "0.0.0.0:0,to=99,password=on|", "-device|" "cirrus-vga,id=video0" }, { "s3cr3t", "-display" }, NULL },
    { "qemu:commandline passes arguments through",
      "<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><name>t</name>"
      "<memory unit='KiB'>32768</memory>" OS "<qemu:commandline><qemu:arg value='-device'/>"
      "<qemu:arg value='loader,file=/x,addr=0x1000000,force-raw=on'/><qemu:env name='QEMU_X' value='1'/>"
      "</qemu:commandline></domain>", false,
      { "-device|loader,file=/x,addr=0x1000000,force-raw=on" }, { NULL }, NULL },
    { "libvirt's own dumpxml of a running-capable domain (defaults written out)",
      HEAD("qemu") "<currentMemory unit='KiB'>32768</currentMemory><vcpu placement='static'>1</vcpu>"
      "<resource><partition>/machine</partition></resource>"
      "<os><type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type><boot dev='hd'/></os>"
      "<cpu mode='custom' match='exact' check='none'><model fallback='forbid'>qemu64</model></cpu>"
      "<clock offset='utc'/><on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>"
      "<devices><emulator>/usr/bin/qemu-system-x86_64</emulator>"
      "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/img/a.qcow2'/><backingStore/>"
      "<target dev='vda' bus='virtio'/><alias name='virtio-disk0'/>"
      "<address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/></disk>"
      "<controller type='usb' index='0' model='none'/><controller type='pci' index='0' model='pci-root'/>"
      "<input type='mouse' bus='ps2'/><input type='keyboard' bus='ps2'/><audio id='1' type='none'/>"
      "<memballoon model='none'/></devices></domain>", false,
      { "virtio-blk-pci,bus=pci.0,addr=0x2,drive=vsnap-vda-0-format,id=vda,bootindex=1|", "-cpu|qemu64|",
        "-rtc|" "base=utc|" }, { "usb", "balloon" }, NULL },
    { "an element vsnap cannot translate is named",
      HEAD("qemu") OS "<devices><sound model='ich9'/></devices></domain>", false, { NULL }, { NULL },
      "unsupported configuration: vsnap cannot start domain 't': <sound model='ich9'> in <devices> is not supported" },
    { "an attribute vsnap cannot translate is named",
      HEAD("qemu") OS "<devices><disk type='file' device='disk'><driver name='qemu' type='qcow2' iothread='1'/>"
      "<source file='/img/a'/><target dev='vda' bus='virtio'/></disk></devices></domain>", false, { NULL }, { NULL },
      "<driver name='qemu' type='qcow2' iothread='1'> in <disk type='file' device='disk'>: attribute 'iothread' is not supported" },
    { "network disks are refused", HEAD("qemu") OS "<devices><disk type='network' device='disk'>"
      "<driver name='qemu' type='raw'/><source protocol='nbd' name='x'/><target dev='vda' bus='virtio'/></disk></devices></domain>",
      false, { NULL }, { NULL }, "only type='file' and 'block' disks, and 'network' disks of protocol 'nbd' or 'gluster', are supported" },
    { "an NBD disk over a unix socket", HEAD("qemu") OS "<devices><disk type='network' device='disk'>"
      "<driver name='qemu' type='qcow2'/><source protocol='nbd' name='e1'><host transport='unix' socket='/run/n.sock'/></source>"
      "<target dev='vda' bus='virtio'/></disk></devices></domain>", false,
      { "-blockdev|{\"driver\":\"nbd\",\"server\":{\"type\":\"unix\",\"path\":\"/run/n.sock\"},\"export\":\"e1\",\"node-name\":\"vsnap-vda-0-storage\"",
        "\"driver\":\"qcow2\",\"file\":\"vsnap-vda-0-storage\"" }, { NULL }, NULL },
    { "a gluster disk on two hosts", HEAD("qemu") OS "<devices><disk type='network' device='disk'>"
      "<driver name='qemu' type='raw'/><source protocol='gluster' name='vol/a.img'><host name='g1' port='24007'/><host name='g2'/></source>"
      "<target dev='vda' bus='virtio'/></disk></devices></domain>", false,
      { "-blockdev|{\"driver\":\"gluster\",\"volume\":\"vol\",\"path\":\"a.img\",\"server\":[{\"type\":\"inet\",\"host\":\"g1\",\"port\":\"24007\"},{\"type\":\"inet\",\"host\":\"g2\",\"port\":\"24007\"}],\"node-name\":\"vsnap-vda-0-storage\"" },
      { NULL }, NULL },
    { "a security label vsnap would not apply is refused",
      HEAD("qemu") OS "<seclabel type='dynamic' model='selinux' relabel='yes'/></domain>", false, { NULL }, { NULL },
      "<seclabel type='dynamic' model='selinux' relabel='yes'> in <domain type='qemu'>: vsnap applies no security labels" },
    { "hostdev is refused", HEAD("qemu") OS "<devices><hostdev mode='subsystem' type='pci'/></devices></domain>",
      false, { NULL }, { NULL }, "<hostdev mode='subsystem' type='pci'> in <devices> is not supported" },
    { "on_crash other than destroy is refused", HEAD("qemu") OS "<on_crash>restart</on_crash></domain>", false,
      { NULL }, { NULL }, "<on_crash> in <domain type='qemu'>: only destroy is supported" },
    { "on_reboot destroy is -no-reboot", HEAD("qemu") OS "<on_reboot>destroy</on_reboot></domain>", false,
      { "-no-reboot" }, { NULL }, NULL },
    { "a cdrom on virtio is refused", HEAD("qemu") OS "<devices><disk type='file' device='cdrom'>"
      "<target dev='vdc' bus='virtio'/></disk></devices></domain>", false, { NULL }, { NULL },
      "a cdrom cannot be on virtio" },
    { "a target QEMU node names cannot hold is refused", HEAD("qemu") OS "<devices>" DISK("vdaaaaaaaaa", "virtio")
      "</devices></domain>", false, { NULL }, { NULL }, "the target must be 1-8 characters" },
    { "usb tablet needs a USB controller", HEAD("qemu") OS "<devices><input type='tablet' bus='usb'/></devices></domain>",
      false, { NULL }, { NULL }, "a USB input device needs a USB controller" },
    { "usb tablet with qemu-xhci", HEAD("qemu") OS "<devices><controller type='usb' index='0' model='qemu-xhci'/>"
      "<input type='tablet' bus='usb'/></devices></domain>", false,
      { "-device|qemu-xhci,id=usb|", "usb-tablet,id=input0,bus=usb.0" }, { NULL }, NULL },
    { "a guest agent channel uses the agent socket on fd 4",
      HEAD("qemu") OS "<devices><channel type='unix'><source mode='bind' path='/var/lib/libvirt/qemu/x.agent'/>"
      "<target type='virtio' name='org.qemu.guest_agent.0'/></channel></devices></domain>", false,
      { "virtio-serial-pci,id=virtio-serial0", "socket,id=charchannel0,fd=4,server=on,wait=off",
        "virtserialport,bus=virtio-serial0.0,nr=1,chardev=charchannel0,id=channel0,name=org.qemu.guest_agent.0" },
      { "x.agent" }, NULL },
    { NULL, NULL, false, { NULL }, { NULL }, NULL },
};

static char *
joined(char **argv)
{
    vs_buf b = VS_BUF_INIT;
    size_t i;

    for (i = 0; argv && argv[i]; i++) {
        vs_buf_add(&b, argv[i]);
        vs_buf_addc(&b, '|');
    }
    return vs_buf_steal(&b);
}

static void
show(const char *s)
{
    printf("#   ");
    for (; *s; s++)
        putchar(*s == '|' ? ' ' : *s);
    putchar('\n');
}

int
main(void)
{
    char netdir[] = "/tmp/vsnap-test-argv.XXXXXX";
    const tcase *tc;
    char *p;
    vs_error err;

    if (!mkdtemp(netdir))
        return 1;
    p = vs_path_join(netdir, "default.xml");
    vs_file_write_atomic(p, "<network><name>default</name><bridge name='virbr7' stp='on'/></network>", 72,
                         0600, &err);
    free(p);

    for (tc = cases; tc->what; tc++) {
        vs_qemu_host host = { "/run/t", 3, 4, tc->kvm_ok, netdir };
        vs_qemu_launch l;
        vs_domain_def *def;
        vs_buf before = VS_BUF_INIT, after = VS_BUF_INIT;
        int rc;
        size_t i;
        bool good = true;
        char *all = NULL;

        vs_error_clear(&err);
        if (!(def = vs_domain_def_parse(tc->xml, strlen(tc->xml), "test", &err))) {
            ok(0, "%s: parse (%s)", tc->what, err.msg);
            continue;
        }
        vs_domain_def_format(&before, def, 0, true, NULL);
        rc = vs_qemu_launch_build(def, &host, &l, &err);
        vs_domain_def_format(&after, def, 0, true, NULL);
        if (tc->error) {
            good = rc < 0 && strstr(err.msg, tc->error) != NULL;
            ok(good, "%s", tc->what);
            if (!good)
                printf("#   got: %s\n#   want: ...%s...\n", rc < 0 ? err.msg : "(success)", tc->error);
        } else {
            all = joined(l.argv);
            if (rc < 0) {
                good = false;
                printf("#   error: %s\n", err.msg);
            }
            for (i = 0; rc == 0 && i < 8 && tc->want[i]; i++) {
                if (!strstr(all, tc->want[i])) {
                    good = false;
                    printf("#   missing:");
                    show(tc->want[i]);
                }
            }
            for (i = 0; rc == 0 && i < 4 && tc->unwanted[i]; i++) {
                if (strstr(all, tc->unwanted[i])) {
                    good = false;
                    printf("#   unwanted: %s\n", tc->unwanted[i]);
                }
            }
            ok(good, "%s", tc->what);
            if (!good && all)
                show(all);
        }
        ok(strcmp(vs_buf_str(&before), vs_buf_str(&after)) == 0,
           "%s: the definition is left as it was", tc->what);
        if (rc == 0 && strstr(tc->what, "UEFI"))
            ok(l.nvram && strcmp(l.nvram, "/var/nvram/t_VARS.fd") == 0 && l.nvram_template &&
               strcmp(l.nvram_template, "/fw/OVMF_VARS.fd") == 0, "UEFI: the NVRAM and its template");
        if (rc == 0 && strstr(tc->what, "password"))
            ok(l.vnc_password && strcmp(l.vnc_password, "s3cr3t") == 0,
               "the VNC password goes over QMP, not the command line");
        if (rc == 0 && strstr(tc->what, "commandline"))
            ok(l.env && l.env[0] && strcmp(l.env[0], "QEMU_X=1") == 0 && !l.env[1], "qemu:env");
        if (rc == 0 && strstr(tc->what, "agent"))
            ok(l.agent, "the launch asks for the agent socket");
        if (rc == 0 && strstr(tc->what, "kvm domain where"))
            ok(l.kvm, "KVM flagged");
        free(all);
        vs_buf_reset(&before);
        vs_buf_reset(&after);
        vs_qemu_launch_clear(&l);
        vs_domain_def_free(def);
    }
    {
        char *n = vs_qemu_node_name("vdb", 3, true), *s = vs_qemu_node_name("vdb", 3, false);
        is_str(n, "vsnap-vdb-3-format", "node names: format");
        is_str(s, "vsnap-vdb-3-storage", "node names: storage");
        free(n);
        free(s);
    }
    p = vs_path_join(netdir, "default.xml");
    unlink(p);
    free(p);
    rmdir(netdir);
    return tap_done();
}
