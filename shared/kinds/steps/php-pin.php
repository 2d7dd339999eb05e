<?php
// Requires each entry of the composer.json sent with its constraint, in
// COMPOSER_HOME's composer.json, where the php runtimes' /bin/extend (8.4)
// installs: that /bin/extend requires the names alone (the keys of
// require), so the latest of each whatever the file says, and passes
// platform entries (php, ext-*) as packages. Here they are what they are
// in a composer.json: constraints composer checks against the platform.
// composer's own message tells a constraint it cannot meet.
// Usage: php php-pin.php COMPOSER_JSON
$b = json_decode(file_get_contents($argv[1]), true);
if (!is_array($b)) {
    fwrite(STDERR, "builder: composer.json is not valid JSON\n");
    exit(1);
}
// A name reaches composer's command line: only a package's or a platform
// requirement's shape passes (an option such as --repository=… does not).
$valid = '/^([a-z0-9]([_.-]?[a-z0-9]+)*\/[a-z0-9](([_.]|-{1,2})?[a-z0-9]+)*|php(-64bit|-ipv6|-zts|-debug)?|hhvm|(ext|lib)-[a-z0-9._-]+|composer(-plugin|-runtime)?-api)$/i';
$specs = [];
$bad = [];
foreach ($b["require"] ?? [] as $name => $constraint) {
    if (!preg_match($valid, (string)$name)) {
        $bad[] = json_encode((string)$name);
        continue;
    }
    $specs[] = "$name:$constraint";
}
if ($bad) {
    fwrite(STDERR, "builder: not composer package names: " . implode(", ", $bad) . "\n");
    exit(1);
}
if (!$specs) {
    exit(0);
}
echo "builder: requiring what composer.json declares: " . implode(" ", $specs) . "\n";
$cmd = "composer global require --no-interaction --no-progress --update-with-all-dependencies " . implode(" ", array_map("escapeshellarg", $specs));
passthru($cmd, $code);
if ($code !== 0) {
    fwrite(STDERR, "builder: composer could not require " . implode(" ", $specs) . ": see composer's message above\n");
    exit(1);
}
