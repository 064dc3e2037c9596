# bash completion for ssmbak, ssmbak-all and ssmbak-stack.
# Installed by `make install` into share/bash-completion/completions/ssmbak
# (with links named ssmbak-all and ssmbak-stack, which bash-completion loads
# by command name). Each command's options are exactly those its -h lists:
# test/e2e/test_completion.py fails when they differ.

_ssmbak_commands="preview restore history log diff export backfill reindex verify stack backup-lambda help version"
_ssmbak_stack_verbs="create diff update delete status events outputs bucketname lambdaname region template"

# _ssmbak_options COMMAND: the options COMMAND's -h lists.
_ssmbak_options() {
	case $1 in
	preview) echo "-R --recursive --all --show-secure --diff --prune --use-last-known --recreate --to --key-prefix --output -b --bucket --stack -r --region --profile --target-region --target-profile --bucket-owner -v --verbose -q --quiet -h --help" ;;
	restore) echo "--force -R --recursive --all --show-secure --diff --prune --use-last-known --recreate --to --key-prefix --output -b --bucket --stack -r --region --profile --target-region --target-profile --bucket-owner -v --verbose -q --quiet -h --help" ;;
	history) echo "--since --until --show-values --show-secure --key-prefix --output -b --bucket --stack -r --region --profile --bucket-owner -v --verbose -q --quiet -h --help" ;;
	log) echo "-R --recursive --since --until --key-prefix --output -b --bucket --stack -r --region --profile --bucket-owner -v --verbose -q --quiet -h --help" ;;
	diff) echo "-R --recursive --show-secure --key-prefix --output -b --bucket --stack -r --region --profile --bucket-owner -v --verbose -q --quiet -h --help" ;;
	export) echo "--format -R --recursive --show-secure --key-prefix -b --bucket --stack -r --region --profile --bucket-owner -v --verbose -q --quiet -h --help" ;;
	backfill) echo "-R --recursive --name-prefix -p --prefix --do-it --missing-only --all --force -r --region --profile --bucket-owner -b --bucket --stack --key-prefix --output -v --verbose -q --quiet -h --help" ;;
	reindex) echo "-R --recursive --dry-run -b --bucket --stack --key-prefix -r --region --profile --bucket-owner -v --verbose -q --quiet -h --help" ;;
	verify) echo "-R --recursive --repair --min-age --output -b --bucket --stack --key-prefix -r --region --profile -v --verbose -q --quiet -h --help" ;;
	stack) echo "-p --parameters --tags --code-bucket --role-arn --yes --org-units --regions --delete-bucket --force --output -r --region --profile --bucket-owner -v --verbose -q --quiet -h --help" ;;
	backup-lambda) echo "-h --help" ;;
	esac
}

# _ssmbak_profiles: the profile names of ~/.aws/config and ~/.aws/credentials.
_ssmbak_profiles() {
	sed -n -e 's/^\[profile \(.*\)\]$/\1/p' -e 's/^\[\([^ ]*\)\]$/\1/p' \
		"${AWS_CONFIG_FILE:-$HOME/.aws/config}" \
		"${AWS_SHARED_CREDENTIALS_FILE:-$HOME/.aws/credentials}" 2>/dev/null | sort -u
}

# _ssmbak_value OPTION: completes the value OPTION takes; false when OPTION
# takes none this script knows.
_ssmbak_value() {
	local cur=$2 words
	case $1 in
	--output) words="table json" ;;
	--format) words="json yaml dotenv shell tfvars" ;;
	--profile | --target-profile) words=$(_ssmbak_profiles) ;;
	-r | --region | --regions | --target-region | -b | --bucket | --stack | --key-prefix | --to | \
	--since | --until | --min-age | -p | --prefix | --parameters | --tags | \
	--code-bucket | --role-arn | --org-units | --bucket-owner | --name-prefix) words="" ;;
	*) return 1 ;;
	esac
	COMPREPLY=($(compgen -W "$words" -- "$cur"))
}

_ssmbak() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	local cmd first
	case ${COMP_WORDS[0]##*/} in
	ssmbak-all) cmd=backfill first=1 ;;
	ssmbak-stack) cmd=stack first=1 ;;
	*)
		if [ "$COMP_CWORD" -eq 1 ]; then
			COMPREPLY=($(compgen -W "$_ssmbak_commands" -- "$cur"))
			return
		fi
		cmd=${COMP_WORDS[1]} first=2 ;;
	esac
	[ "$COMP_CWORD" -gt "$first" ] && _ssmbak_value "$prev" "$cur" && return
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(_ssmbak_options "$cmd")" -- "$cur"))
	elif [ "$cmd" = help ]; then
		COMPREPLY=($(compgen -W "$_ssmbak_commands" -- "$cur"))
	elif [ "$cmd" = stack ] && [ "$COMP_CWORD" -eq "$first" ]; then
		COMPREPLY=($(compgen -W "template" -- "$cur"))
	elif [ "$cmd" = stack ] && [ "$COMP_CWORD" -eq $((first + 1)) ]; then
		COMPREPLY=($(compgen -W "$_ssmbak_stack_verbs" -- "$cur"))
	fi
}
complete -F _ssmbak ssmbak ssmbak-all ssmbak-stack
