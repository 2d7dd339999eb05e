<?php
// Merges the repositories (the file's first) and config of the
// composer.json sent into COMPOSER_HOME's composer.json, where the image
// sets one: the php runtimes' /bin/extend (8.4) runs `composer global
// require`, which reads COMPOSER_HOME's, not the file's.
// Usage: php php-prepare.php COMPOSER_JSON
$home = getenv("COMPOSER_HOME");
if ($home === false || $home === "") {
    exit(0);
}
if (!is_dir($home)) {
    mkdir($home, 0777, true);
}
$f = $home . "/composer.json";
$a = is_file($f) ? json_decode(file_get_contents($f), true) : [];
$b = json_decode(file_get_contents($argv[1]), true);
if (!is_array($b)) {
    fwrite(STDERR, "builder: composer.json is not valid JSON\n");
    exit(1);
}
if (isset($b["repositories"])) {
    $a["repositories"] = array_merge($b["repositories"], $a["repositories"] ?? []);
}
if (isset($b["config"])) {
    $a["config"] = array_merge($a["config"] ?? [], $b["config"]);
}
file_put_contents($f, json_encode($a, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES));
