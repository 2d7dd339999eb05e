<?php
// Fails the build unless each package the composer.json sent requires is
// in COMPOSER_HOME's vendor folder (platform requirements, such as php
// and ext-*, aside): the php runtimes' /bin/extend ends with success when
// composer failed.
// Usage: php php-check.php COMPOSER_JSON
$b = json_decode(file_get_contents($argv[1]), true);
$home = getenv("COMPOSER_HOME") ?: getenv("HOME") . "/.config/composer";
$lost = [];
foreach (array_keys($b["require"] ?? []) as $p) {
    if (strpos($p, "/") !== false && !is_dir("$home/vendor/$p")) {
        $lost[] = $p;
    }
}
if ($lost) {
    fwrite(STDERR, "builder: the runtime's /bin/extend did not install " . implode(", ", $lost) . ": see composer's message above\n");
    exit(1);
}
