<?php
// Fails the build unless each package the composer.json sent requires is
// in COMPOSER_HOME's vendor folder (platform requirements, such as php
// and ext-*, aside), at the version the file pins where it pins one: the
// php runtimes' /bin/extend ends with success when composer failed, and
// installs the latest whatever the file says. A range is composer's to
// honour (php-pin.php required it with its constraint).
// Usage: php php-check.php COMPOSER_JSON
$b = json_decode(file_get_contents($argv[1]), true);
$home = getenv("COMPOSER_HOME") ?: getenv("HOME") . "/.config/composer";
$installed = [];
$list = is_file("$home/vendor/composer/installed.json") ? json_decode(file_get_contents("$home/vendor/composer/installed.json"), true) : [];
foreach ($list["packages"] ?? $list ?? [] as $p) {
    if (isset($p["name"], $p["version"])) {
        $installed[$p["name"]] = ltrim($p["version"], "v");
    }
}
$problems = [];
foreach ($b["require"] ?? [] as $p => $constraint) {
    if (strpos($p, "/") === false) {
        continue; // a platform requirement
    }
    if (!is_dir("$home/vendor/$p")) {
        $problems[] = "did not install $p";
        continue;
    }
    if (preg_match('/^=?=?v?(\d+(\.\d+){0,3})$/', trim($constraint), $m) && isset($installed[$p])) {
        $want = $m[1];
        $have = $installed[$p];
        // 1.0 and 1.0.0 are one version to composer.
        if (rtrim(preg_replace('/(\.0)+$/', '', $have), ".") !== rtrim(preg_replace('/(\.0)+$/', '', $want), ".")) {
            $problems[] = "$p is $have, not $constraint as composer.json pins it";
        }
    }
}
if ($problems) {
    fwrite(STDERR, "builder: the dependencies are not as composer.json declares: " . implode("; ", $problems) . ": see composer's message above\n");
    exit(1);
}
